// The header's terrain (docs/protocol.md §6.5): heightmap and masks decoded, and the ground
// height by the generator's own rule.
using System;
using System.Collections.Generic;

namespace ImmersiVerse
{
    /// <summary>The terrain part of the world header (docs/protocol.md §6.5). The world is the
    /// square [-Size/2, Size/2]² centred on the origin. Heights and masks are present when the
    /// server sends them (heightmap `u16le-base64`, masks as run lengths); otherwise a client
    /// builds flat ground over the bounds.</summary>
    public sealed class TerrainInfo
    {
        public double Size, Cell, WaterLevel, HeightMin, HeightMax;
        public int Resolution;          // heightmap samples per edge
        public double Spacing;          // metres between samples
        /// <summary>Resolution × Resolution heights in metres, row-major: rows along z (south to
        /// north), columns along x (west to east); sample (x, z) lies at (-Size/2 + x·Spacing,
        /// -Size/2 + z·Spacing). Null when the header carries no samples.</summary>
        public float[] Heights;
        public int MaskResolution;      // cells per edge of the water/path rasters
        public double MaskCell;         // metres per raster cell
        public bool[] WaterMask, PathMask;  // MaskResolution², row-major like Heights, or null
        public Dictionary<string, object> Raw;

        public const double DryMargin = 0.3, WetMargin = 0.5;   // §6.5 ground height rule

        public static TerrainInfo FromMap(Dictionary<string, object> m)
        {
            if (m == null) return null;
            var t = new TerrainInfo
            {
                Raw = m, Size = Wire.Num(m, "size"), Cell = Wire.Num(m, "cell", 1),
                WaterLevel = Wire.Num(m, "water_level"), HeightMin = Wire.Num(m, "height_min"),
                HeightMax = Wire.Num(m, "height_max"),
            };
            var hm = Wire.Map(m, "heightmap");
            if (hm != null)
            {
                t.Resolution = (int)Wire.Long(hm, "resolution");
                t.Spacing = Wire.Num(hm, "spacing");
                t.Heights = ReadHeights(hm, t.Resolution);
            }
            var masks = Wire.Map(m, "masks");
            if (masks != null && Wire.Str(masks, "encoding") == "runs")
            {
                t.MaskResolution = (int)Wire.Long(masks, "resolution");
                t.MaskCell = Wire.Num(masks, "cell", t.Cell);
                t.WaterMask = ReadRuns(Wire.List(masks, "water"), t.MaskResolution);
                t.PathMask = ReadRuns(Wire.List(masks, "path"), t.MaskResolution);
            }
            return t;
        }

        static float[] ReadHeights(Dictionary<string, object> hm, int resolution)
        {
            long n = (long)resolution * resolution;
            var data = Wire.Str(hm, "data");
            if (data != null && Wire.Str(hm, "encoding") == "u16le-base64")
            {
                // uint16 little-endian samples quantised between `min` and `max`.
                byte[] bytes;
                try { bytes = Convert.FromBase64String(data); }
                catch (FormatException) { return null; }
                if (bytes.Length != 2 * n) return null;
                double lo = Wire.Num(hm, "min"), step = (Wire.Num(hm, "max") - lo) / 65535.0;
                var heights = new float[n];
                for (int i = 0; i < n; i++) heights[i] = (float)(lo + (bytes[2 * i] | (bytes[2 * i + 1] << 8)) * step);
                return heights;
            }
            var list = Wire.Get(hm, "data") as List<object> ?? Wire.Get(hm, "heights") as List<object>;
            if (list == null) return null;
            var result = new List<float>();
            foreach (var v in list)
            {
                double d;
                var row = v as List<object>;
                if (row != null) { foreach (var x in row) if (Wire.ToDouble(x, out d)) result.Add((float)d); }
                else if (Wire.ToDouble(v, out d)) result.Add((float)d);
            }
            return result.Count == n ? result.ToArray() : null;
        }

        /// <summary>Run lengths of a row-major scan: alternately outside and inside, starting outside.</summary>
        static bool[] ReadRuns(List<object> runs, int resolution)
        {
            long n = (long)resolution * resolution, at = 0;
            if (resolution <= 0 || runs.Count == 0) return null;
            var mask = new bool[n];
            for (int k = 0; k < runs.Count; k++)
            {
                long len = runs[k] is long ? (long)runs[k] : -1;
                if (len < 0 || at + len > n) return null;
                if (k % 2 == 1) for (long i = at; i < at + len; i++) mask[i] = true;
                at += len;
            }
            return at == n ? mask : null;
        }

        bool MaskAt(bool[] mask, double x, double z)
        {
            if (mask == null || MaskResolution <= 0 || MaskCell <= 0) return false;
            int n = MaskResolution;
            int i = Math.Min(Math.Max((int)Math.Floor((x + Size / 2) / MaskCell), 0), n - 1);
            int j = Math.Min(Math.Max((int)Math.Floor((z + Size / 2) / MaskCell), 0), n - 1);
            return mask[j * n + i];
        }

        public bool IsWater(double x, double z) { return MaskAt(WaterMask, x, z); }
        public bool IsPath(double x, double z) { return MaskAt(PathMask, x, z); }

        /// <summary>Ground height at (x, z) by the generator's rule (§6.5): bilinear over the
        /// heightmap, then dry land at least 0.3 m above the water level and water cells at least
        /// 0.5 m below it. Without samples: the water level.</summary>
        public double GroundHeight(double x, double z)
        {
            if (Heights == null || Resolution < 2 || Spacing <= 0) return WaterLevel;
            int g = Resolution - 1;
            double fx = Math.Min(Math.Max((x + Size / 2) / Spacing, 0), g - 1e-9);
            double fz = Math.Min(Math.Max((z + Size / 2) / Spacing, 0), g - 1e-9);
            int i = (int)fx, j = (int)fz;
            double tx = fx - i, tz = fz - j;
            int n = Resolution;
            double y = (Heights[j * n + i] * (1 - tx) + Heights[j * n + i + 1] * tx) * (1 - tz)
                     + (Heights[(j + 1) * n + i] * (1 - tx) + Heights[(j + 1) * n + i + 1] * tx) * tz;
            if (WaterMask == null) return Math.Max(y, WaterLevel + DryMargin);
            return IsWater(x, z) ? Math.Min(y, WaterLevel - WetMargin) : Math.Max(y, WaterLevel + DryMargin);
        }
    }
}
