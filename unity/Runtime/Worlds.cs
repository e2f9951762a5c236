// Worlds as rooms: join with a snapshot or a replay, live ops in seq order, edits with acks,
// presence, and resume after a reconnect (docs/protocol.md §7.4).
using System;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace ImmersiVerse
{
    public sealed partial class ImmersiVerseClient
    {
        sealed class WorldState
        {
            public long LastSeq;          // the last seq whose state this client holds
            public bool HasState;         // a full snapshot (or stream) was received
            public long ReplayUntil = -1; // ops up to this seq are the replay of a resume
        }

        readonly Dictionary<string, WorldState> worlds = new Dictionary<string, WorldState>();

        public event Action<Joined> WorldJoined;
        public event Action<Snapshot> SnapshotReceived;
        /// <summary>Ops of other members (and replayed ops after a resume), in seq order, each once.</summary>
        public event Action<OpFrame> OpReceived;
        public event Action<PresenceEvent> PresenceReceived;
        /// <summary>A world this client was in is gone for it (deleted, access revoked): world id, error.</summary>
        public event Action<string, ErrorInfo> WorldLost;

        /// <summary>The last seq applied for a joined world, or -1.</summary>
        public long LastSeq(string worldId)
        {
            WorldState w;
            return worlds.TryGetValue(worldId, out w) ? w.LastSeq : -1;
        }

        public ICollection<string> JoinedWorlds { get { return worlds.Keys; } }

        /// <summary>`join`: completes with `joined`; a snapshot or the missed ops follow as events.
        /// A world already held is resumed from its last seq.</summary>
        public Task<Joined> JoinAsync(string worldId)
        {
            WorldState w;
            long? since = worlds.TryGetValue(worldId, out w) && w.HasState ? (long?)w.LastSeq : null;
            return JoinAsync(worldId, since);
        }

        public Task<Joined> JoinAsync(string worldId, long? sinceSeq)
        {
            var frame = new Dictionary<string, object> { { "type", "join" }, { "world_id", worldId } };
            if (sinceSeq.HasValue) frame["since_seq"] = sinceSeq.Value;
            return Request(frame, Joined.FromMap);
        }

        public Task<bool> LeaveAsync(string worldId)
        {
            worlds.Remove(worldId);
            var frame = new Dictionary<string, object> { { "type", "leave" }, { "world_id", worldId } };
            return Request(frame, f => true);
        }

        /// <summary>An atomic edit batch (§7.4); completes with the ack and one outcome per op.</summary>
        public Task<EditAck> EditAsync(string worldId, IList<EditOp> ops)
        {
            var list = new List<object>();
            foreach (var op in ops) list.Add(op.ToMap());
            var frame = new Dictionary<string, object> { { "type", "edit" }, { "world_id", worldId }, { "ops", list } };
            return Request(frame, f =>
            {
                var ack = EditAck.FromMap(f);
                WorldState w;
                if (worlds.TryGetValue(ack.WorldId ?? worldId, out w) && ack.Seq > w.LastSeq) w.LastSeq = ack.Seq;
                return ack;
            });
        }

        readonly Dictionary<string, Dictionary<string, object>> presencePending = new Dictionary<string, Dictionary<string, object>>();
        readonly Dictionary<string, DateTime> presenceSent = new Dictionary<string, DateTime>();

        /// <summary>Ephemeral cursor and selection (§7.4); no reply. The server drops presence
        /// beyond `presence_per_s`, so updates coming faster are coalesced here: the latest one
        /// is sent as soon as the rate allows (from Tick), and the last position always arrives.</summary>
        public bool SendPresence(string worldId, Vec3? cursor, IList<string> selection = null)
        {
            var frame = new Dictionary<string, object> { { "type", "presence" }, { "world_id", worldId } };
            if (cursor.HasValue) frame["cursor"] = cursor.Value.ToWire();
            if (selection != null) frame["selection"] = new List<object>(selection);
            if (!IsConnected) return false;
            presencePending[worldId] = frame;
            FlushPresence();
            return true;
        }

        void FlushPresence()
        {
            if (presencePending.Count == 0 || !IsConnected) return;
            double rate = Welcome == null ? 10 : Wire.Num(Welcome.Limits, "presence_per_s", 10);
            var interval = TimeSpan.FromSeconds(rate > 0 ? 1.0 / rate : 1.0);
            var now = DateTime.UtcNow;
            // One bucket per connection on the server: pace all worlds together.
            DateTime last;
            if (presenceSent.TryGetValue("", out last) && now - last < interval) return;
            foreach (var kv in presencePending)
            {
                presencePending.Remove(kv.Key);
                presenceSent[""] = now;
                Send(kv.Value);
                return;
            }
        }

        void TrackGeneratedWorld(string worldId)
        {
            // The requester is a member from gen.start on (§7.2); the stream is its state.
            if (!worlds.ContainsKey(worldId)) worlds[worldId] = new WorldState();
        }

        void OnWorldGenerated(string worldId)
        {
            WorldState w;
            if (worlds.TryGetValue(worldId, out w) && !w.HasState && w.ReplayUntil < 0) w.HasState = true;
        }

        void OnJoined(Dictionary<string, object> f)
        {
            var j = Joined.FromMap(f);
            WorldState w;
            if (!worlds.TryGetValue(j.WorldId, out w)) worlds[j.WorldId] = w = new WorldState();
            if (j.Mode == "replay") w.ReplayUntil = j.Seq;
            else { w.HasState = false; w.LastSeq = j.Seq; w.ReplayUntil = -1; }
            Raise(WorldJoined, j);
        }

        void OnLeft(Dictionary<string, object> f)
        {
            worlds.Remove(Wire.Str(f, "world_id", ""));
        }

        void OnSnapshot(Dictionary<string, object> f)
        {
            var s = Snapshot.FromMap(f);
            WorldState w;
            if (s.Last && worlds.TryGetValue(s.WorldId, out w)) { w.HasState = true; w.LastSeq = s.Seq; }
            Raise(SnapshotReceived, s);
        }

        void OnOp(Dictionary<string, object> f)
        {
            var o = OpFrame.FromMap(f);
            WorldState w;
            if (worlds.TryGetValue(o.WorldId, out w))
            {
                if (o.Seq <= w.LastSeq) { Log("dropped duplicate op seq " + o.Seq); return; }
                if (w.HasState && o.Seq != w.LastSeq + 1)
                {
                    // The server promises no gaps (§7.4); if one shows anyway, resync by resuming.
                    Log(string.Format("gap in {0}: seq {1} after {2}; rejoining", o.WorldId, o.Seq, w.LastSeq));
                    JoinAsync(o.WorldId, w.LastSeq).Forget();
                    return;
                }
                w.LastSeq = o.Seq;
                o.Replayed = o.Seq <= w.ReplayUntil;
            }
            Raise(OpReceived, o);
        }

        void OnPresence(Dictionary<string, object> f)
        {
            var p = PresenceEvent.FromMap(f);
            Raise(PresenceReceived, p);
        }

        void OnWorldError(ErrorInfo e)
        {
            // §7.1: an error with world_id and no request: deleted or access revoked (not_found,
            // forbidden) ends membership; anything else asks for a resync by joining again.
            if (e.Code == Codes.NotFound || e.Code == Codes.Forbidden)
            {
                worlds.Remove(e.WorldId);
                var lost = WorldLost;
                if (lost != null)
                {
                    try { lost(e.WorldId, e); }
                    catch (Exception ex) { Dispatcher.OnHandlerError(ex); }
                }
                return;
            }
            WorldState w;
            if (worlds.TryGetValue(e.WorldId, out w))
                JoinAsync(e.WorldId, w.HasState ? (long?)w.LastSeq : null).Forget();
        }

        void ResumeWorlds()
        {
            foreach (var kv in new List<KeyValuePair<string, WorldState>>(worlds))
            {
                long? since = kv.Value.HasState ? (long?)kv.Value.LastSeq : null;
                JoinAsync(kv.Key, since).Then(t =>
                {
                    if (t.IsFaulted) Log("resume of " + kv.Key + " failed: " + t.Exception.GetBaseException().Message);
                });
            }
        }
    }
}
