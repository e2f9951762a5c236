// Telemetry batching with acks, retry and dedupe ids (docs/protocol.md §7.3). Each event gets a
// unique id when tracked; it stays queued until an ack lists it (stored or duplicate) or rejects
// it, so a batch lost to a disconnect is resent after the reconnect without double counting.
using System;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace ImmersiVerse
{
    public sealed class TelemetryEvent : IWireMap
    {
        public string Id, Type, WorldId, ExperienceId;
        public double? Ts;                        // unix seconds
        public Dictionary<string, object> Data;

        public Dictionary<string, object> ToMap()
        {
            var m = new Dictionary<string, object> { { "id", Id }, { "type", Type } };
            if (Ts.HasValue) m["ts"] = Ts.Value;
            if (WorldId != null) m["world_id"] = WorldId;
            if (ExperienceId != null) m["experience_id"] = ExperienceId;
            if (Data != null) m["data"] = Data;
            return m;
        }

        public static double Now()
        {
            return (DateTime.UtcNow - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).TotalSeconds;
        }
    }

    public sealed class TelemetryQueue
    {
        readonly ImmersiVerseClient client;
        readonly List<TelemetryEvent> queue = new List<TelemetryEvent>();
        readonly HashSet<string> inFlight = new HashSet<string>();
        DateTime lastFlush = DateTime.UtcNow;

        public const int MaxQueued = 10000;      // oldest events are dropped beyond this
        public long Stored, Duplicates, Rejected, Dropped;
        public event Action<TelemetryAck> Acked;

        internal TelemetryQueue(ImmersiVerseClient client) { this.client = client; }

        public int Pending { get { return queue.Count; } }

        public TelemetryEvent Track(string type, Dictionary<string, object> data = null, string worldId = null)
        {
            var e = new TelemetryEvent { Id = "e-" + Guid.NewGuid().ToString("N"), Type = type, Ts = TelemetryEvent.Now(), WorldId = worldId, Data = data };
            Enqueue(e);
            return e;
        }

        public void Enqueue(TelemetryEvent e)
        {
            if (queue.Count >= MaxQueued) { queue.RemoveAt(0); Dropped++; }
            queue.Add(e);
        }

        /// <summary>Send the next batch of queued events that are not already in flight.</summary>
        public Task<TelemetryAck> FlushAsync()
        {
            lastFlush = DateTime.UtcNow;
            int max = Math.Min(client.Options.TelemetryBatchSize,
                client.Welcome == null ? 500 : (int)client.Welcome.Limit("max_telemetry_events", 500));
            var batch = new List<TelemetryEvent>();
            foreach (var e in queue)
            {
                if (batch.Count >= max) break;
                if (!inFlight.Contains(e.Id)) batch.Add(e);
            }
            if (batch.Count == 0) return Task.FromResult<TelemetryAck>(null);
            foreach (var e in batch) inFlight.Add(e.Id);
            var sent = client.SendTelemetryAsync(batch);
            sent.Then(t => client.Dispatcher.Post(() => OnResult(batch, t)));
            return sent;
        }

        void OnResult(List<TelemetryEvent> batch, Task<TelemetryAck> t)
        {
            foreach (var e in batch) inFlight.Remove(e.Id);
            if (t.Status != TaskStatus.RanToCompletion) return;   // kept queued: retried on the next flush
            var ack = t.Result;
            var done = new HashSet<string>(ack.Ids);
            foreach (var r in ack.Rejected) { var id = Wire.Str(r, "id"); if (id != null) done.Add(id); }
            queue.RemoveAll(e => done.Contains(e.Id));
            Stored += ack.Ids.Count - ack.Duplicates.Count;
            Duplicates += ack.Duplicates.Count;
            Rejected += ack.Rejected.Count;
            client.Raise(Acked, ack);
        }

        internal void Tick()
        {
            double every = client.Options.TelemetryFlushSeconds;
            if (every > 0 && queue.Count > 0 && inFlight.Count == 0 && (DateTime.UtcNow - lastFlush).TotalSeconds >= every)
                FlushAsync();
        }

        internal void OnConnected()
        {
            if (queue.Count > 0 && inFlight.Count == 0) FlushAsync();
        }
    }

    public sealed partial class ImmersiVerseClient
    {
        /// <summary>One `telemetry` frame → `telemetry.ack` (§7.3). TelemetryQueue uses it; call it
        /// directly to resend a batch yourself.</summary>
        public Task<TelemetryAck> SendTelemetryAsync(IList<TelemetryEvent> events)
        {
            var list = new List<object>();
            foreach (var e in events) list.Add(e.ToMap());
            var frame = new Dictionary<string, object> { { "type", "telemetry" }, { "events", list } };
            return Request(frame, TelemetryAck.FromMap);
        }
    }
}
