// Reading fields out of decoded frames (docs/protocol.md §2.4: an absent field and nil are the
// same; unknown fields are ignored; a float field accepts any msgpack number).
using System;
using System.Collections.Generic;
using System.Globalization;

namespace ImmersiVerse
{
    public static class Wire
    {
        public static object Get(IDictionary<string, object> map, string key)
        {
            object v;
            return map != null && map.TryGetValue(key, out v) ? v : null;
        }

        public static string Str(IDictionary<string, object> map, string key, string fallback = null)
        {
            return Get(map, key) as string ?? fallback;
        }

        public static bool Has(IDictionary<string, object> map, string key)
        {
            return Get(map, key) != null;
        }

        public static long Long(IDictionary<string, object> map, string key, long fallback = 0)
        {
            object v = Get(map, key);
            if (v is long) return (long)v;
            if (v is double) return (long)(double)v;
            return fallback;
        }

        public static double Num(IDictionary<string, object> map, string key, double fallback = 0)
        {
            double d;
            return ToDouble(Get(map, key), out d) ? d : fallback;
        }

        public static bool ToDouble(object v, out double d)
        {
            if (v is double) { d = (double)v; return true; }
            if (v is long) { d = (long)v; return true; }
            if (v is ulong) { d = (ulong)v; return true; }
            if (v is int) { d = (int)v; return true; }
            if (v is float) { d = (float)v; return true; }
            d = 0;
            return false;
        }

        public static bool Bool(IDictionary<string, object> map, string key, bool fallback = false)
        {
            object v = Get(map, key);
            return v is bool ? (bool)v : fallback;
        }

        public static Dictionary<string, object> Map(IDictionary<string, object> map, string key)
        {
            return Get(map, key) as Dictionary<string, object>;
        }

        public static List<object> List(IDictionary<string, object> map, string key)
        {
            return Get(map, key) as List<object> ?? new List<object>();
        }

        public static List<string> Strings(IDictionary<string, object> map, string key)
        {
            var result = new List<string>();
            foreach (var v in List(map, key)) { var s = v as string; if (s != null) result.Add(s); }
            return result;
        }

        /// <summary>A short readable rendering of a decoded value (logs, test output).</summary>
        public static string Show(object v)
        {
            if (v == null) return "nil";
            if (v is string) return "\"" + v + "\"";
            if (v is bool) return (bool)v ? "true" : "false";
            if (v is double) return ((double)v).ToString("R", CultureInfo.InvariantCulture);
            var map = v as IDictionary<string, object>;
            if (map != null)
            {
                var parts = new List<string>();
                foreach (var kv in map) parts.Add(kv.Key + ": " + Show(kv.Value));
                return "{" + string.Join(", ", parts.ToArray()) + "}";
            }
            var list = v as List<object>;
            if (list != null)
            {
                var parts = new List<string>();
                foreach (var x in list) parts.Add(Show(x));
                return "[" + string.Join(", ", parts.ToArray()) + "]";
            }
            return Convert.ToString(v, CultureInfo.InvariantCulture);
        }
    }

    /// <summary>A position or scale in metres, Y up, left-handed like Unity (§6.1, §12).</summary>
    [Serializable]
    public struct Vec3
    {
        public double X, Y, Z;

        public Vec3(double x, double y, double z) { X = x; Y = y; Z = z; }

        public List<object> ToWire() { return new List<object> { X, Y, Z }; }

        /// <summary>Accepts both shapes in use: [x, y, z] (socket instances) and {x, y, z}
        /// (the world header until the spec settles on one, and REST bodies).</summary>
        public static bool TryParse(object v, out Vec3 result)
        {
            result = default(Vec3);
            var list = v as List<object>;
            if (list != null && list.Count == 3)
                return Wire.ToDouble(list[0], out result.X) && Wire.ToDouble(list[1], out result.Y)
                    && Wire.ToDouble(list[2], out result.Z);
            var map = v as Dictionary<string, object>;
            if (map != null && map.ContainsKey("x") && map.ContainsKey("y") && map.ContainsKey("z"))
                return Wire.ToDouble(map["x"], out result.X) && Wire.ToDouble(map["y"], out result.Y)
                    && Wire.ToDouble(map["z"], out result.Z);
            return false;
        }

        public static Vec3 Parse(object v, Vec3 fallback)
        {
            Vec3 r;
            return TryParse(v, out r) ? r : fallback;
        }

        public override string ToString()
        {
            return string.Format(CultureInfo.InvariantCulture, "({0}, {1}, {2})", X, Y, Z);
        }
    }

    /// <summary>A rotation quaternion [x, y, z, w]; maps to new Quaternion(x, y, z, w) (§12).</summary>
    [Serializable]
    public struct Quat
    {
        public double X, Y, Z, W;
        public static readonly Quat Identity = new Quat(0, 0, 0, 1);

        public Quat(double x, double y, double z, double w) { X = x; Y = y; Z = z; W = w; }

        public List<object> ToWire() { return new List<object> { X, Y, Z, W }; }

        public static Quat Parse(object v, Quat fallback)
        {
            var list = v as List<object>;
            Quat q;
            if (list != null && list.Count == 4 && Wire.ToDouble(list[0], out q.X) && Wire.ToDouble(list[1], out q.Y)
                && Wire.ToDouble(list[2], out q.Z) && Wire.ToDouble(list[3], out q.W))
                return q;
            var map = v as Dictionary<string, object>;
            if (map != null && Wire.Has(map, "w"))
                return new Quat(Wire.Num(map, "x"), Wire.Num(map, "y"), Wire.Num(map, "z"), Wire.Num(map, "w"));
            return fallback;
        }
    }
}
