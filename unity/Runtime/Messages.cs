// Typed views of the server frames (docs/protocol.md §6, §7). Each keeps the decoded map in
// `Raw`, so fields a newer server adds stay reachable (§2.4).
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

    /// <summary>The world header of gen.start and of the first snapshot frame (§7.2, §7.4).</summary>
    public sealed class WorldHeader
    {
        public string Title, Description, WorldType, Status;
        /// <summary>The world's instance count, or -1 when not known: in gen.start while the world is still
        /// being planned (GenDone.Instances then carries it); in a snapshot, the instances it holds.</summary>
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

        public static GenStart FromMap(Dictionary<string, object> f)
        {
            return new GenStart
            {
                Rid = Wire.Long(f, "rid"), WorldId = Wire.Str(f, "world_id"), SessionId = Wire.Str(f, "session_id"),
                Header = WorldHeader.FromMap(Wire.Map(f, "header")) ?? new WorldHeader(),
            };
        }
    }

    public sealed class GenChunk
    {
        public long Rid;
        public string WorldId;
        public int Index;
        public List<Instance> Instances;
        public bool Own;

        public static GenChunk FromMap(Dictionary<string, object> f)
        {
            return new GenChunk
            {
                Rid = Wire.Long(f, "rid"), WorldId = Wire.Str(f, "world_id"), Index = (int)Wire.Long(f, "index"),
                Instances = Instance.ListFrom(f, "instances"),
            };
        }
    }

    public sealed class GenDone
    {
        public long Rid;
        public string WorldId, Status;
        public long Instances, Chunks;
        public Dictionary<string, object> Timings;
        public List<string> Warnings;
        public bool Own;

        public static GenDone FromMap(Dictionary<string, object> f)
        {
            return new GenDone
            {
                Rid = Wire.Long(f, "rid"), WorldId = Wire.Str(f, "world_id"), Status = Wire.Str(f, "status"),
                Instances = Wire.Long(f, "instances"), Chunks = Wire.Long(f, "chunks"),
                Timings = Wire.Map(f, "timings") ?? new Dictionary<string, object>(), Warnings = Wire.Strings(f, "warnings"),
            };
        }
    }

    public sealed class Joined
    {
        public long Rid, Seq;
        public string WorldId, Role, Mode;
        public List<Member> Members;

        public static Joined FromMap(Dictionary<string, object> f)
        {
            return new Joined
            {
                Rid = Wire.Long(f, "rid"), WorldId = Wire.Str(f, "world_id"), Seq = Wire.Long(f, "seq"),
                Role = Wire.Str(f, "role"), Mode = Wire.Str(f, "mode"), Members = Member.ListFrom(f, "members"),
            };
        }
    }

    public sealed class Snapshot
    {
        public long Rid, Seq;
        public string WorldId;
        public int Index;
        public bool Last;
        public WorldHeader Header;      // first frame only
        public List<Instance> Instances;

        public static Snapshot FromMap(Dictionary<string, object> f)
        {
            return new Snapshot
            {
                Rid = Wire.Long(f, "rid"), WorldId = Wire.Str(f, "world_id"), Seq = Wire.Long(f, "seq"),
                Index = (int)Wire.Long(f, "index"), Last = Wire.Bool(f, "last"),
                Header = WorldHeader.FromMap(Wire.Map(f, "header")), Instances = Instance.ListFrom(f, "instances"),
            };
        }
    }

    /// <summary>An `op` broadcast (§7.4): one applied edit batch.</summary>
    public sealed class OpFrame
    {
        public string WorldId, Author;
        public long Seq;
        public List<EditOp> Ops;
        public bool Replayed;            // part of a resume replay (between joined and live frames)

        public static OpFrame FromMap(Dictionary<string, object> f)
        {
            var o = new OpFrame { WorldId = Wire.Str(f, "world_id"), Seq = Wire.Long(f, "seq"), Author = Wire.Str(f, "author"), Ops = new List<EditOp>() };
            foreach (var v in Wire.List(f, "ops")) { var m = v as Dictionary<string, object>; if (m != null) o.Ops.Add(EditOp.FromMap(m)); }
            return o;
        }
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

        public static EditAck FromMap(Dictionary<string, object> f)
        {
            var ack = new EditAck { Rid = Wire.Long(f, "rid"), WorldId = Wire.Str(f, "world_id"), Seq = Wire.Long(f, "seq") };
            foreach (var v in Wire.List(f, "results"))
            {
                var r = v as Dictionary<string, object>;
                if (r == null) continue;
                ack.Results.Add(new EditResult
                {
                    Index = (int)Wire.Long(r, "i"), Outcome = Wire.Str(r, "outcome"), Id = Wire.Str(r, "id"),
                    PrefabType = Wire.Str(r, "prefab_type"),
                });
            }
            return ack;
        }
    }

    public sealed class PresenceEvent
    {
        public string WorldId, Event;
        public Member Member;
        /// <summary>Every member this event is about: the joins (or leaves) of one room tick
        /// come in one frame (docs/protocol.md §7.4); a frame about one member lists just it.</summary>
        public List<Member> Members;
        public Vec3? Cursor;
        public List<string> Selection;

        public static PresenceEvent FromMap(Dictionary<string, object> f)
        {
            var p = new PresenceEvent
            {
                WorldId = Wire.Str(f, "world_id"), Event = Wire.Str(f, "event"),
                Member = Member.FromMap(Wire.Map(f, "member")),
                Selection = Wire.Has(f, "selection") ? Wire.Strings(f, "selection") : null,
            };
            p.Members = Wire.Has(f, "members") ? Member.ListFrom(f, "members") : new List<Member> { p.Member };
            Vec3 c;
            if (Vec3.TryParse(Wire.Get(f, "cursor"), out c)) p.Cursor = c;
            return p;
        }
    }

    public sealed class TelemetryAck
    {
        public long Rid;
        public List<string> Ids, Duplicates;
        public List<Dictionary<string, object>> Rejected = new List<Dictionary<string, object>>();

        public static TelemetryAck FromMap(Dictionary<string, object> f)
        {
            var ack = new TelemetryAck { Rid = Wire.Long(f, "rid"), Ids = Wire.Strings(f, "ids"), Duplicates = Wire.Strings(f, "duplicates") };
            foreach (var r in Wire.List(f, "rejected")) { var m = r as Dictionary<string, object>; if (m != null) ack.Rejected.Add(m); }
            return ack;
        }
    }

    public sealed class AuthOk
    {
        public long Rid;
        public string UserId;
        public double ExpiresAt;

        public static AuthOk FromMap(Dictionary<string, object> f)
        {
            return new AuthOk { Rid = Wire.Long(f, "rid"), UserId = Wire.Str(f, "user_id"), ExpiresAt = Wire.Num(f, "expires_at") };
        }
    }
}
