// Typed views of the server frames (docs/protocol.md §6, §7). Each keeps the decoded map in
// `Raw`, so fields a newer server adds stay reachable (§2.4).
using System;
using System.Collections.Generic;

namespace ImmersiVerse
{
    /// <summary>One prefab instance (§6.1).</summary>
    public sealed class Instance
    {
        public string Id, PrefabId, PrefabType;
        public Vec3 Position;
        public Quat Rotation = Quat.Identity;
        public Vec3 Scale = new Vec3(1, 1, 1);
        public Dictionary<string, object> Props = new Dictionary<string, object>();

        public static Instance FromMap(Dictionary<string, object> m)
        {
            return new Instance
            {
                Id = Wire.Str(m, "id"),
                PrefabId = Wire.Str(m, "prefab_id"),
                PrefabType = Wire.Str(m, "prefab_type"),
                Position = Vec3.Parse(Wire.Get(m, "pos"), default(Vec3)),
                Rotation = Quat.Parse(Wire.Get(m, "rot"), Quat.Identity),
                Scale = Vec3.Parse(Wire.Get(m, "scale"), new Vec3(1, 1, 1)),
                Props = Wire.Map(m, "props") ?? new Dictionary<string, object>(),
            };
        }

        public static List<Instance> ListFrom(Dictionary<string, object> frame, string key)
        {
            var result = new List<Instance>();
            foreach (var v in Wire.List(frame, key))
            {
                var m = v as Dictionary<string, object>;
                if (m != null) result.Add(FromMap(m));
            }
            return result;
        }
    }

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

    /// <summary>The world header of gen.start and of the first snapshot frame (§7.2, §7.4).</summary>
    public sealed class WorldHeader
    {
        public string Title, Description, WorldType, Status;
        public long InstanceCount;
        public bool HasBounds;
        public Vec3 BoundsMin, BoundsMax;
        public List<Vec3> SpawnPoints = new List<Vec3>();
        public TerrainInfo Terrain;
        public Dictionary<string, object> Environment;
        public Dictionary<string, object> Raw;

        public static WorldHeader FromMap(Dictionary<string, object> m)
        {
            if (m == null) return null;
            var h = new WorldHeader
            {
                Raw = m, Title = Wire.Str(m, "title"), Description = Wire.Str(m, "description"),
                WorldType = Wire.Str(m, "world_type"), Status = Wire.Str(m, "status"),
                InstanceCount = Wire.Long(m, "instance_count", -1),
                Terrain = TerrainInfo.FromMap(Wire.Map(m, "terrain")),
                Environment = Wire.Map(m, "environment_settings") ?? Wire.Map(m, "environment"),
            };
            foreach (var p in Wire.List(m, "spawn_points"))
            {
                Vec3 v;
                if (Vec3.TryParse(p, out v)) h.SpawnPoints.Add(v);
            }
            // bounds: {min, max} (each a map or an array) or [[min], [max]].
            object bounds = Wire.Get(m, "bounds");
            var bmap = bounds as Dictionary<string, object>;
            var blist = bounds as List<object>;
            if (bmap != null)
                h.HasBounds = Vec3.TryParse(Wire.Get(bmap, "min"), out h.BoundsMin) & Vec3.TryParse(Wire.Get(bmap, "max"), out h.BoundsMax);
            else if (blist != null && blist.Count == 2)
                h.HasBounds = Vec3.TryParse(blist[0], out h.BoundsMin) & Vec3.TryParse(blist[1], out h.BoundsMax);
            return h;
        }
    }

    public sealed class Member
    {
        public string UserId, DisplayName, Role, SessionId;

        public static Member FromMap(Dictionary<string, object> m)
        {
            if (m == null) return null;
            return new Member
            {
                UserId = Wire.Str(m, "user_id"), DisplayName = Wire.Str(m, "display_name"),
                Role = Wire.Str(m, "role"), SessionId = Wire.Str(m, "session_id"),
            };
        }

        public static List<Member> ListFrom(Dictionary<string, object> frame, string key)
        {
            var result = new List<Member>();
            foreach (var v in Wire.List(frame, key)) { var m = Member.FromMap(v as Dictionary<string, object>); if (m != null) result.Add(m); }
            return result;
        }
    }

    public sealed class Welcome
    {
        public string SessionId, UserId, ServerVersion;
        public int Protocol;
        public double HeartbeatSeconds;
        public Dictionary<string, object> Limits;
        public Dictionary<string, object> Raw;

        public static Welcome FromMap(Dictionary<string, object> m)
        {
            return new Welcome
            {
                Raw = m, SessionId = Wire.Str(m, "session_id"), UserId = Wire.Str(m, "user_id"),
                ServerVersion = Wire.Str(m, "server_version"), Protocol = (int)Wire.Long(m, "protocol", 1),
                HeartbeatSeconds = Wire.Num(m, "heartbeat_s", 15), Limits = Wire.Map(m, "limits") ?? new Dictionary<string, object>(),
            };
        }

        public long Limit(string name, long fallback) { return Wire.Long(Limits, name, fallback); }
    }

    /// <summary>An `error` frame (§7.1, §8).</summary>
    public sealed class ErrorInfo
    {
        public long? Rid;
        public int Code;
        public string Name, Message, WorldId;
        public double RetryAfterSeconds;
        public Dictionary<string, object> Fields;
        public Dictionary<string, object> Raw;

        public static ErrorInfo FromMap(Dictionary<string, object> m)
        {
            return new ErrorInfo
            {
                Raw = m, Rid = Wire.Has(m, "rid") ? (long?)Wire.Long(m, "rid") : null,
                Code = (int)Wire.Long(m, "code"), Name = Wire.Str(m, "name"), Message = Wire.Str(m, "message"),
                WorldId = Wire.Str(m, "world_id"), RetryAfterSeconds = Wire.Num(m, "retry_after_s"),
                Fields = Wire.Map(m, "fields"),
            };
        }

        /// <summary>Client-side errors use codes outside the server's ranges.</summary>
        public static ErrorInfo Local(string name, string message)
        {
            return new ErrorInfo { Code = 0, Name = name, Message = message };
        }

        public bool Retryable { get { return Codes.ErrorRetryable(Code); } }

        public override string ToString() { return Code + " " + Name + ": " + Message; }
    }

    /// <summary>`bye` (§7.1) or the close that ended a connection.</summary>
    public sealed class CloseInfo
    {
        public int Code;
        public string Reason;
        public bool Reconnect;           // the §9 range rule (or bye.reconnect)
        public bool WillReconnect;       // whether this client is going to reconnect
        public double RetryAfterSeconds;
        public List<long> SupportedVersions = new List<long>();
        public bool FromBye;

        public override string ToString() { return Code + " " + Reason + (WillReconnect ? " (reconnecting)" : ""); }
    }

    public sealed class GenStart
    {
        public long Rid;
        public string WorldId, SessionId;
        public WorldHeader Header;
        public bool Own;                 // requested by this session (§7.2)
    }

    public sealed class GenChunk
    {
        public long Rid;
        public string WorldId;
        public int Index;
        public List<Instance> Instances;
        public bool Own;
    }

    public sealed class GenDone
    {
        public long Rid;
        public string WorldId, Status;
        public long Instances, Chunks;
        public Dictionary<string, object> Timings;
        public List<string> Warnings;
        public bool Own;
    }

    public sealed class Joined
    {
        public long Rid, Seq;
        public string WorldId, Role, Mode;
        public List<Member> Members;
    }

    public sealed class Snapshot
    {
        public long Rid, Seq;
        public string WorldId;
        public int Index;
        public bool Last;
        public WorldHeader Header;      // first frame only
        public List<Instance> Instances;
    }

    /// <summary>An `op` broadcast (§7.4): one applied edit batch.</summary>
    public sealed class OpFrame
    {
        public string WorldId, Author;
        public long Seq;
        public List<EditOp> Ops;
        public bool Replayed;            // part of a resume replay (between joined and live frames)
    }

    public sealed class EditResult
    {
        public int Index;
        public string Outcome, Id, PrefabType;
    }

    public sealed class EditAck
    {
        public long Rid, Seq;
        public string WorldId;
        public List<EditResult> Results = new List<EditResult>();
    }

    public sealed class PresenceEvent
    {
        public string WorldId, Event;
        public Member Member;
        public Vec3? Cursor;
        public List<string> Selection;
    }

    public sealed class TelemetryAck
    {
        public long Rid;
        public List<string> Ids, Duplicates;
        public List<Dictionary<string, object>> Rejected = new List<Dictionary<string, object>>();
    }

    public sealed class AuthOk
    {
        public long Rid;
        public string UserId;
        public double ExpiresAt;
    }
}
