// The catalog file `immersiverse catalog import` accepts (docs/catalog.md; the JSON Schema is
// persistence/data/catalog.schema.json). Unity-independent, so the Editor exporter only gathers
// prefab data and the file itself is built and checked here (and tested under Mono).
using System;
using System.Collections.Generic;
using System.Text;

namespace ImmersiVerse
{
    public sealed class CatalogEntry
    {
        public static readonly string[] Types = { "building", "vehicle", "character", "prop", "environment", "lighting", "effect", "ui" };
        public static readonly string[] WorldTypeNames = { "fantasy", "sci_fi", "realistic", "surreal", "historical", "urban", "nature", "space" };

        public string Id, Name, Type = "prop", Description, Version = "1.0.0", DownloadUrl, ThumbnailUrl;
        public List<string> WorldTypes = new List<string>();
        public List<string> Tags = new List<string>();
        public long SizeBytes;
        // Footprint in metres at scale 1 (from the prefab's bounds).
        public double Width, Depth, Height;
        public double ScaleMin = 1, ScaleMax = 1;
        public string Surface = "ground", Pattern = "single";
        public bool Solid = true, Landmark;

        public Dictionary<string, object> ToMap()
        {
            return new Dictionary<string, object>
            {
                { "id", Id }, { "name", Name }, { "type", Type }, { "world_types", new List<object>(WorldTypes.ToArray()) },
                { "description", Description }, { "tags", new List<object>(Tags.ToArray()) }, { "version", Version },
                { "download_url", DownloadUrl }, { "size_bytes", SizeBytes }, { "thumbnail_url", ThumbnailUrl },
                {
                    "placement", new Dictionary<string, object>
                    {
                        { "width", Width }, { "depth", Depth }, { "height", Height }, { "surface", Surface }, { "pattern", Pattern },
                        { "scale_min", ScaleMin }, { "scale_max", ScaleMax }, { "solid", Solid }, { "landmark", Landmark },
                    }
                },
            };
        }

        /// <summary>Problems the importer would report for this row (empty when it is valid).</summary>
        public List<string> Problems()
        {
            var p = new List<string>();
            if (Id == null || Id.Length == 0 || Id.Length > 64 || !IsIdChars(Id)) p.Add("id: must match [a-z0-9_]{1,64}");
            Text(p, "name", Name, 200);
            if (Array.IndexOf(Types, Type) < 0) p.Add("type: must be one of " + string.Join(", ", Types));
            foreach (var w in WorldTypes) if (Array.IndexOf(WorldTypeNames, w) < 0) p.Add("world_types: unknown " + w);
            foreach (var t in Tags) if (string.IsNullOrEmpty(t) || t.Length > 64) p.Add("tags: 1..64 characters each");
            Text(p, "description", Description, 4000);
            Text(p, "version", Version, 32);
            Text(p, "download_url", DownloadUrl, 1000);
            Text(p, "thumbnail_url", ThumbnailUrl, 1000);
            if (SizeBytes < 0) p.Add("size_bytes: must be ≥ 0");
            Range(p, "width", Width, 10000); Range(p, "depth", Depth, 10000); Range(p, "height", Height, 10000);
            Range(p, "scale_min", ScaleMin, 10); Range(p, "scale_max", ScaleMax, 10);
            if (ScaleMin > ScaleMax) p.Add("placement.scale_min: must not exceed scale_max");
            return p;
        }

        static bool IsIdChars(string s)
        {
            foreach (char c in s) if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
            return true;
        }

        static void Text(List<string> p, string name, string v, int max)
        {
            if (v == null || v.Trim().Length == 0 || v.Length > max) p.Add(name + ": must be a non-empty string of at most " + max + " characters");
        }

        static void Range(List<string> p, string name, double v, double max)
        {
            if (!(v > 0 && v <= max)) p.Add("placement." + name + ": must be a number in (0, " + max + "]");
        }

        /// <summary>A catalog id from an asset name: lowercase, [a-z0-9_], at most 64 characters.</summary>
        public static string IdFromName(string name)
        {
            var sb = new StringBuilder();
            foreach (char ch in (name ?? "").ToLowerInvariant())
            {
                bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
                if (ok) sb.Append(ch);
                else if (sb.Length > 0 && sb[sb.Length - 1] != '_') sb.Append('_');
            }
            string id = sb.ToString().Trim('_');
            if (id.Length > 64) id = id.Substring(0, 64).TrimEnd('_');
            return id.Length == 0 ? "prefab" : id;
        }
    }

    public static class CatalogFile
    {
        /// <summary>The file's JSON: {"catalog_version": version, "prefabs": [...]}. Throws
        /// ArgumentException listing every invalid row, and on duplicate ids.</summary>
        public static string Write(string version, IList<CatalogEntry> entries)
        {
            var problems = new List<string>();
            var seen = new HashSet<string>();
            var rows = new List<object>();
            for (int i = 0; i < entries.Count; i++)
            {
                var e = entries[i];
                foreach (var p in e.Problems()) problems.Add("prefabs[" + i + "] (" + e.Name + "): " + p);
                if (e.Id != null && !seen.Add(e.Id)) problems.Add("prefabs[" + i + "]: id " + e.Id + " is duplicated");
                rows.Add(e.ToMap());
            }
            if (problems.Count > 0) throw new ArgumentException(string.Join("\n", problems.ToArray()));
            var doc = new Dictionary<string, object>();
            if (!string.IsNullOrEmpty(version)) doc["catalog_version"] = version;
            doc["prefabs"] = rows;
            return Json.Write(doc, true) + "\n";
        }
    }
}
