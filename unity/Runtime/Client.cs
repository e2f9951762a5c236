// The session client: one socket, authentication, request ids, dispatch of server frames,
// reconnect with backoff and resume (docs/protocol.md §3, §4, §7.4, §9).
//
// Threading: the transport reads on its own thread and hands each message over; it is decoded
// there, and everything else — state, requests, events — runs on the dispatcher's thread (Unity's
// main thread, or whoever calls Dispatcher.Pump()). Public methods must be called on that thread.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ImmersiVerse
{
    public enum ClientState { Idle, Connecting, Connected, Reconnecting, Closed }

    public sealed partial class ImmersiVerseClient : IDisposable
    {
        public readonly ClientOptions Options;
        public readonly Dispatcher Dispatcher;
        public readonly TelemetryQueue Telemetry;

        public ClientState State { get; private set; }
        public Welcome Welcome { get; private set; }
        public string SessionId { get { return Welcome == null ? null : Welcome.SessionId; } }
        public CloseInfo LastClose { get; private set; }
        public int ReconnectAttempt { get; private set; }

        /// <summary>Every `welcome`: the first connect and each successful reconnect.</summary>
        public event Action<Welcome> Connected;
        /// <summary>Every lost or closed connection, with whether the client will reconnect.</summary>
        public event Action<CloseInfo> Disconnected;
        /// <summary>`error` frames that answer no pending request (e.g. a world deleted, §7.1).</summary>
        public event Action<ErrorInfo> Error;
        /// <summary>Every server frame, decoded, before it is handled (diagnostics).</summary>
        public event Action<Dictionary<string, object>> FrameReceived;

        ITransport transport;
        int connection;                      // counts connections; events of older ones are dropped
        bool closing;
        Dictionary<string, object> lastBye;
        TaskCompletionSource<Welcome> connectTcs;
        readonly Dictionary<long, Pending> pending = new Dictionary<long, Pending>();
        long nextRid;
        DateTime lastSent = DateTime.UtcNow;
        Timer timer;

        sealed class Pending
        {
            public Action<Dictionary<string, object>> Reply;
            public Action<ErrorInfo> Fail;
            public Action<CloseInfo> Lost;
        }

        public ImmersiVerseClient(ClientOptions options, Dispatcher dispatcher = null)
        {
            if (options == null || string.IsNullOrEmpty(options.Url)) throw new ArgumentException("options.Url is required");
            Options = options;
            Dispatcher = dispatcher ?? Dispatcher.CaptureCurrent();
            Telemetry = new TelemetryQueue(this);
            State = ClientState.Idle;
        }

        void Log(string message)
        {
            var log = Options.Log;
            if (log != null) log(message);
        }

        // ---- connecting ----

        /// <summary>Connect and authenticate; completes with the `welcome` (§3.3). Fails on a
        /// terminal close (4500–4999, e.g. a bad token) or when reconnect attempts run out.</summary>
        public Task<Welcome> ConnectAsync()
        {
            if (State == ClientState.Connected) return Task.FromResult(Welcome);
            if (connectTcs == null || connectTcs.Task.IsCompleted)
                connectTcs = new TaskCompletionSource<Welcome>(TaskCreationOptions.RunContinuationsAsynchronously);
            closing = false;
            if (State != ClientState.Connecting) Open();
#if !(UNITY_WEBGL && !UNITY_EDITOR)
            if (Options.TickMilliseconds > 0 && timer == null)
                timer = new Timer(_ => Dispatcher.Post(Tick), null, Options.TickMilliseconds, Options.TickMilliseconds);
#endif
            return connectTcs.Task;
        }

        void Open()
        {
            State = State == ClientState.Idle || State == ClientState.Closed ? ClientState.Connecting : ClientState.Reconnecting;
            int id = ++connection;
            lastBye = null;
            var t = Options.TransportFactory != null ? Options.TransportFactory() : DefaultTransport();
            transport = t;
            bool hello = Options.UseHello || !t.SupportsHeaders;
            var headers = new Dictionary<string, string>();
            if (!hello && Options.Token != null) headers["Authorization"] = "Bearer " + Options.Token;
            t.MessageReceived += bytes => Receive(id, bytes);
            t.Closed += (code, reason) => Dispatcher.Post(() => OnClosed(id, code, reason));
            t.ConnectAsync(new Uri(Options.Url), headers, CancellationToken.None).Then(task => Dispatcher.Post(() =>
            {
                if (id != connection) return;
                if (task.IsFaulted || task.IsCanceled)
                {
                    Log("connect failed: " + (task.Exception == null ? "cancelled" : task.Exception.GetBaseException().Message));
                    OnClosed(id, Codes.AbnormalClosure, "connect failed");
                }
                else if (hello)
                    Send(HelloFrame(Options.Token));
            }));
        }

        static ITransport DefaultTransport()
        {
#if UNITY_WEBGL && !UNITY_EDITOR
            return new WebGLTransport();
#else
            return new ClientWebSocketTransport();
#endif
        }

        public Dictionary<string, object> HelloFrame(string token)
        {
            var m = new Dictionary<string, object> { { "type", "hello" }, { "v", Options.ProtocolVersion } };
            if (token != null) m["token"] = token;
            m["client"] = new Dictionary<string, object> { { "name", Options.ClientName }, { "version", Options.ClientVersion } };
            return m;
        }

        /// <summary>Close on purpose with 1000 (§9); no reconnect follows.</summary>
        public Task CloseAsync()
        {
            closing = true;
            State = ClientState.Closed;
            var t = transport;
            return t == null ? Task.FromResult(0) : t.CloseAsync(Codes.NormalClosure, "normal_closure");
        }

        /// <summary>Drop the socket without a close handshake, as a network failure would; the
        /// client then reconnects and resumes like after any reconnectable close.</summary>
        public void DropConnection()
        {
            var t = transport;
            if (t != null) t.Abort();
        }

        public void Dispose()
        {
            if (timer != null) { timer.Dispose(); timer = null; }
            closing = true;
            State = ClientState.Closed;
            var t = transport;
            if (t != null) t.CloseAsync(Codes.NormalClosure, "normal_closure").Forget();
        }

        void OnClosed(int id, int code, string reason)
        {
            if (id != connection) return;
            transport = null;
            var info = new CloseInfo { Code = code, Reason = reason, Reconnect = Codes.CloseMayReconnect(code) };
            if (lastBye != null)
            {
                // bye carries the code even where a WebSocket layer reports only 1005/1006 (§7.1).
                info.FromBye = true;
                info.Code = (int)Wire.Long(lastBye, "code", code);
                info.Reason = Wire.Str(lastBye, "reason", reason);
                info.Reconnect = Codes.CloseMayReconnect(info.Code);
                info.RetryAfterSeconds = Wire.Num(lastBye, "retry_after_s");
                foreach (var v in Wire.List(lastBye, "supported_versions")) if (v is long) info.SupportedVersions.Add((long)v);
            }
            int attempt = ReconnectAttempt + 1;
            info.WillReconnect = !closing && info.Reconnect && Options.AutoReconnect
                && (Options.Backoff.MaxAttempts == 0 || attempt <= Options.Backoff.MaxAttempts);
            LastClose = info;
            FailPending(info);
            if (info.WillReconnect)
            {
                State = ClientState.Reconnecting;
                ReconnectAttempt = attempt;
                double delay = Options.Backoff.Delay(attempt, info.RetryAfterSeconds);
                Log(string.Format("closed {0}; reconnecting in {1:F2} s (attempt {2})", info, delay, attempt));
                ScheduleReconnect(id, delay);
            }
            else
            {
                State = ClientState.Closed;
                if (connectTcs != null) connectTcs.TrySetException(new ImmersiVerseException(info));
            }
            Raise(Disconnected, info);
        }

        void ScheduleReconnect(int id, double delaySeconds)
        {
#if UNITY_WEBGL && !UNITY_EDITOR
            // No threads or timers in WebGL: Tick(), called every frame, starts the reconnect.
            reconnectDue = DateTime.UtcNow.AddSeconds(delaySeconds);
            reconnectConnection = id;
        }

        DateTime reconnectDue = DateTime.MaxValue;
        int reconnectConnection;

        void TickReconnect()
        {
            if (DateTime.UtcNow < reconnectDue) return;
            reconnectDue = DateTime.MaxValue;
            Reopen(reconnectConnection);
        }
#else
            Task.Delay(TimeSpan.FromSeconds(delaySeconds)).Then(_ => Dispatcher.Post(() => Reopen(id)));
        }

        void TickReconnect() { }
#endif

        void Reopen(int id)
        {
            {
                if (id != connection || closing) return;
                var provider = Options.TokenProvider;
                if (provider == null) { Open(); return; }
                provider().Then(t => Dispatcher.Post(() =>
                {
                    if (id != connection || closing) return;
                    if (t.Status == TaskStatus.RanToCompletion && t.Result != null) Options.Token = t.Result;
                    else Log("token provider failed; reconnecting with the current token");
                    Open();
                }));
            }
        }

        /// <summary>Reconnect now (e.g. after AutoReconnect = false and a drop); resumes joined worlds.</summary>
        public Task<Welcome> ReconnectAsync()
        {
            closing = false;
            if (State == ClientState.Connected) return Task.FromResult(Welcome);
            connection++;  // cancels a scheduled reconnect
            if (connectTcs == null || connectTcs.Task.IsCompleted)
                connectTcs = new TaskCompletionSource<Welcome>(TaskCreationOptions.RunContinuationsAsynchronously);
            State = ClientState.Reconnecting;
            Open();
            return connectTcs.Task;
        }

        void FailPending(CloseInfo info)
        {
            var list = new List<Pending>(pending.Values);
            pending.Clear();
            foreach (var p in list) p.Lost(info);
            FailGenerations(info);
        }

        // ---- receiving ----

        void Receive(int id, byte[] bytes)
        {
            // Decoded on the transport's thread so that the main thread only applies results (§12).
            Dictionary<string, object> frame = null;
            string problem = null;
            try { frame = MsgPack.Decode(bytes) as Dictionary<string, object>; }
            catch (MsgPackException e) { problem = e.Message; }
            Dispatcher.Post(() =>
            {
                if (id != connection) return;
                if (frame == null) { Log("undecodable server frame: " + (problem ?? "not a map")); return; }
                Handle(frame);
            });
        }

        void Handle(Dictionary<string, object> f)
        {
            Raise(FrameReceived, f);
            string type = Wire.Str(f, "type", "");
            switch (type)
            {
                case "welcome": OnWelcome(f); return;
                case "bye": lastBye = f; return;
                case "error": OnError(f); return;
                case "gen.start": OnGenStart(f); return;
                case "gen.chunk": OnGenChunk(f); return;
                case "gen.done": OnGenDone(f); return;
                case "snapshot": OnSnapshot(f); return;
                case "op": OnOp(f); return;
                case "presence": OnPresence(f); return;
                case "joined": OnJoined(f); break;
                case "left": OnLeft(f); break;
            }
            if (Wire.Has(f, "rid")) Complete(Wire.Long(f, "rid"), f);   // pong, auth.ok, cancelled, ...
        }

        void OnWelcome(Dictionary<string, object> f)
        {
            Welcome = Welcome.FromMap(f);
            bool resumed = ReconnectAttempt > 0 || State == ClientState.Reconnecting;
            State = ClientState.Connected;
            ReconnectAttempt = 0;
            if (connectTcs != null) connectTcs.TrySetResult(Welcome);
            Raise(Connected, Welcome);
            if (resumed) ResumeWorlds();
            Telemetry.OnConnected();
        }

        void OnError(Dictionary<string, object> f)
        {
            var e = ErrorInfo.FromMap(f);
            if (e.Rid.HasValue)
            {
                Pending p;
                if (pending.TryGetValue(e.Rid.Value, out p)) { pending.Remove(e.Rid.Value); p.Fail(e); return; }
                if (FailGeneration(e)) return;
            }
            if (e.WorldId != null) OnWorldError(e);
            Raise(Error, e);
        }

        void Complete(long rid, Dictionary<string, object> f)
        {
            Pending p;
            if (!pending.TryGetValue(rid, out p)) return;
            pending.Remove(rid);
            p.Reply(f);
        }

        // ---- sending ----

        long NextRid()
        {
            nextRid = nextRid >= int.MaxValue ? 1 : nextRid + 1;   // §4.1: 0 … 2^31−1
            return nextRid;
        }

        public bool IsConnected { get { return State == ClientState.Connected && transport != null; } }

        /// <summary>Send one frame (a map). Returns false when there is no open socket.</summary>
        public bool Send(Dictionary<string, object> frame)
        {
            return SendRaw(MsgPack.Encode(frame));
        }

        /// <summary>Send raw bytes as one binary message (tests of error handling use it).</summary>
        public bool SendRaw(byte[] bytes)
        {
            var t = transport;
            if (t == null) return false;
            lastSent = DateTime.UtcNow;
            t.SendAsync(bytes).Then(task =>
            {
                if (task.IsFaulted) Log("send failed: " + task.Exception.GetBaseException().Message);
            });
            return true;
        }

        /// <summary>A request with a fresh rid; the task completes with its final frame (§4.1).</summary>
        public Task<T> Request<T>(Dictionary<string, object> frame, Func<Dictionary<string, object>, T> parse)
        {
            var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            long rid = NextRid();
            frame["rid"] = rid;
            if (!IsConnected)
            {
                tcs.SetException(new ImmersiVerseException(ErrorInfo.Local("not_connected", "the client is not connected")));
                return tcs.Task;
            }
            pending[rid] = new Pending
            {
                Reply = f => { try { tcs.TrySetResult(parse(f)); } catch (Exception e) { tcs.TrySetException(e); } },
                Fail = e => tcs.TrySetException(new ImmersiVerseException(e)),
                Lost = c => tcs.TrySetException(new ImmersiVerseException(c)),
            };
            Send(frame);
            return tcs.Task;
        }

        /// <summary>Heartbeat (§4.2) and telemetry flushing; the client's timer calls it, or call it
        /// once per frame when TickMilliseconds is 0 (WebGL).</summary>
        public void Tick()
        {
            TickReconnect();
            if (!IsConnected) return;
            double heartbeat = Welcome == null ? 15 : Welcome.HeartbeatSeconds;
            if ((DateTime.UtcNow - lastSent).TotalSeconds >= heartbeat * 0.8)
                PingAsync().Forget();
            FlushPresence();
            TickTokenRefresh();
            Telemetry.Tick();
        }

        /// <summary>`ping` → `pong` (§4.2); completes with the server time (unix seconds).</summary>
        public Task<double> PingAsync()
        {
            return Request(new Dictionary<string, object> { { "type", "ping" } }, f => Wire.Num(f, "server_time"));
        }
    }
}
