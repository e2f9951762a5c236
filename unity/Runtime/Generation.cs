// Generate(prompt, options) and the handle that follows one generation (docs/protocol.md §7.2).
using System;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace ImmersiVerse
{
    public sealed class GenerateOptions
    {
        public string WorldType;        // fantasy, sci_fi, realistic, surreal, historical, urban, nature, space
        public long? Seed;
        public int? MaxInstances;
        public bool Room = true;        // the world is a room others may join (with a share or public visibility)
    }

    /// <summary>One running generation of this session. Events arrive on the dispatcher's thread:
    /// Started (with the world header), Chunk (typed instances), then Done (complete or failed),
    /// Cancelled, or Failed (an `error` instead of gen.start, or the connection was lost).</summary>
    public sealed class Generation
    {
        public readonly long Rid;
        public readonly string Prompt;
        /// <summary>The world is a room (GenerateOptions.Room): the client resumes it after a reconnect.</summary>
        public readonly bool Room;
        public string WorldId { get; internal set; }
        public WorldHeader Header { get; internal set; }
        public int ChunksReceived { get; internal set; }
        public long InstancesReceived { get; internal set; }
        public GenDone Result { get; internal set; }
        public ErrorInfo Failure { get; internal set; }

        public event Action<GenStart> Started;
        public event Action<GenChunk> Chunk;
        public event Action<GenDone> Done;
        public event Action<GenDone> Cancelled;
        public event Action<ErrorInfo> Failed;

        readonly ImmersiVerseClient client;
        readonly TaskCompletionSource<GenDone> completion = new TaskCompletionSource<GenDone>(TaskCreationOptions.RunContinuationsAsynchronously);

        internal Generation(ImmersiVerseClient client, long rid, string prompt, bool room)
        {
            this.client = client;
            Rid = rid;
            Prompt = prompt;
            Room = room;
        }

        /// <summary>Completes with gen.done (status complete, cancelled or failed); faults with an
        /// ImmersiVerseException when the prompt was refused or the connection was lost.</summary>
        public Task<GenDone> Completion { get { return completion.Task; } }

        public bool IsFinished { get { return completion.Task.IsCompleted; } }

        /// <summary>`cancel {target: rid}` → gen.done {status: cancelled}, then `cancelled` (§7.2).</summary>
        public Task<bool> CancelAsync()
        {
            var frame = new Dictionary<string, object> { { "type", "cancel" }, { "target", Rid } };
            return client.Request(frame, f => true);
        }

        internal void OnStart(GenStart s)
        {
            WorldId = s.WorldId;
            Header = s.Header;
            Raise(Started, s);
        }

        internal void OnChunk(GenChunk c)
        {
            ChunksReceived++;
            InstancesReceived += c.Instances.Count;
            Raise(Chunk, c);
        }

        internal void OnDone(GenDone d)
        {
            Result = d;
            if (d.Status == "cancelled") Raise(Cancelled, d);
            Raise(Done, d);
            completion.TrySetResult(d);
        }

        internal void OnFailed(ErrorInfo e, CloseInfo close)
        {
            Failure = e;
            Raise(Failed, e);
            completion.TrySetException(close != null ? new ImmersiVerseException(close) : new ImmersiVerseException(e));
        }

        void Raise<T>(Action<T> handler, T value)
        {
            if (handler == null) return;
            try { handler(value); }
            catch (Exception ex) { client.Dispatcher.OnHandlerError(ex); }
        }
    }

    public sealed partial class ImmersiVerseClient
    {
        readonly Dictionary<long, Generation> generations = new Dictionary<long, Generation>();

        /// <summary>gen.start of any generation this session sees (its own and room members').</summary>
        public event Action<GenStart> GenerationStarted;
        public event Action<GenChunk> ChunkReceived;
        public event Action<GenDone> GenerationDone;

        /// <summary>Send a prompt; the returned handle reports the world as it streams in.</summary>
        public Generation Generate(string prompt, GenerateOptions options = null)
        {
            options = options ?? new GenerateOptions();
            long rid = NextRid();
            var gen = new Generation(this, rid, prompt, options.Room);
            var frame = new Dictionary<string, object> { { "type", "prompt" }, { "rid", rid }, { "prompt", prompt } };
            if (options.WorldType != null) frame["world_type"] = options.WorldType;
            if (options.Seed.HasValue) frame["seed"] = options.Seed.Value;
            if (options.MaxInstances.HasValue) frame["max_instances"] = options.MaxInstances.Value;
            if (!options.Room) frame["room"] = false;
            if (!IsConnected)
            {
                var e = ErrorInfo.Local("not_connected", "the client is not connected");
                Dispatcher.Post(() => gen.OnFailed(e, null));
                return gen;
            }
            generations[rid] = gen;
            Send(frame);
            return gen;
        }

        /// <summary>This session's generation with that rid: before gen.start any world matches
        /// (gen.start checks the session id), afterwards only its own world, so a room member's
        /// generation that happens to use the same rid is never taken for ours.</summary>
        Generation OwnGeneration(long rid, string worldId, bool started)
        {
            Generation g;
            if (!generations.TryGetValue(rid, out g)) return null;
            if (g.WorldId == null) return started ? null : g;
            return g.WorldId == worldId ? g : null;
        }

        void OnGenStart(Dictionary<string, object> f)
        {
            var s = GenStart.FromMap(f);
            Generation g = s.SessionId == SessionId ? OwnGeneration(s.Rid, s.WorldId, false) : null;
            s.Own = g != null;
            if (g != null)
            {
                g.OnStart(s);
                if (g.Room) TrackGeneratedWorld(s.WorldId);
            }
            Raise(GenerationStarted, s);
        }

        void OnGenChunk(Dictionary<string, object> f)
        {
            var c = GenChunk.FromMap(f);
            var g = OwnGeneration(c.Rid, c.WorldId, true);
            c.Own = g != null;
            if (c.Own) g.OnChunk(c);
            Raise(ChunkReceived, c);
        }

        void OnGenDone(Dictionary<string, object> f)
        {
            var d = GenDone.FromMap(f);
            var g = OwnGeneration(d.Rid, d.WorldId, true);
            d.Own = g != null;
            if (g != null)
            {
                generations.Remove(d.Rid);
                g.OnDone(d);
            }
            OnWorldGenerated(d.WorldId);
            Raise(GenerationDone, d);
        }

        bool FailGeneration(ErrorInfo e)
        {
            Generation g;
            if (!generations.TryGetValue(e.Rid.Value, out g)) return false;
            generations.Remove(e.Rid.Value);
            g.OnFailed(e, null);
            return true;
        }

        void FailGenerations(CloseInfo close)
        {
            // The server keeps what was sent as a partial world (§7.2); the handle reports the loss.
            var list = new List<Generation>(generations.Values);
            generations.Clear();
            var e = ErrorInfo.Local("connection_lost", "the connection closed during generation: " + close);
            foreach (var g in list) g.OnFailed(e, close);
        }

        /// <summary>Raise an event; an exception in a handler is reported to the dispatcher's
        /// OnHandlerError and never stops the client's own processing of the frame.</summary>
        internal void Raise<T>(Action<T> handler, T value)
        {
            if (handler == null) return;
            try { handler(value); }
            catch (Exception e) { Dispatcher.OnHandlerError(e); }
        }
    }
}
