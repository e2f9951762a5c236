using System;
using System.Threading.Tasks;

namespace ImmersiVerse
{
    public sealed class ClientOptions
    {
        /// <summary>The socket endpoint, e.g. ws://127.0.0.1:8000/ws (docs/protocol.md §2.1).</summary>
        public string Url;
        /// <summary>The JWT from /api/v1/auth/login (or register).</summary>
        public string Token;
        /// <summary>Optional: asked for a fresh token before each reconnect, and shortly before the
        /// current token expires (then swapped in with auth.refresh, no reconnect).</summary>
        public Func<Task<string>> TokenProvider;
        /// <summary>With a TokenProvider: refresh this long before the token's `exp` (0 = never).</summary>
        public double RefreshBeforeExpirySeconds = 60;
        /// <summary>Authenticate with a `hello` frame instead of the Authorization header. Forced
        /// on for transports that cannot set headers (WebGL).</summary>
        public bool UseHello;
        public int ProtocolVersion = 1;
        public string ClientName = "immersiverse-unity";
        public string ClientVersion = "0.1.0";
        public bool AutoReconnect = true;
        public Backoff Backoff = new Backoff();
        /// <summary>Makes the socket; the default is ClientWebSocketTransport (WebGL: WebGLTransport).</summary>
        public Func<ITransport> TransportFactory;
        /// <summary>Telemetry events are sent at most this often, in batches (0 = only on Flush).</summary>
        public double TelemetryFlushSeconds = 5;
        public int TelemetryBatchSize = 100;
        /// <summary>How often the client's timer runs Tick(): heartbeats, coalesced presence,
        /// telemetry, (WebGL) reconnect delays. Milliseconds; 0 = no timer, call Tick() yourself,
        /// as WebGL builds must.</summary>
        public int TickMilliseconds = 100;
        public Action<string> Log;
    }

    /// <summary>Exponential backoff with jitter for reconnects (§9), honouring retry_after_s.</summary>
    public sealed class Backoff
    {
        public double InitialSeconds = 0.5;
        public double MaxSeconds = 30;
        public double Multiplier = 2;
        public double Jitter = 0.25;          // ± this fraction of the delay
        public int MaxAttempts = 0;           // 0 = keep trying
        readonly Random random = new Random();

        public double Delay(int attempt, double retryAfterSeconds)
        {
            double d = InitialSeconds * Math.Pow(Multiplier, Math.Max(0, attempt - 1));
            d = Math.Min(d, MaxSeconds);
            lock (random) d *= 1 + Jitter * (2 * random.NextDouble() - 1);
            return Math.Max(d, retryAfterSeconds);
        }
    }

    /// <summary>A request that failed: an `error` frame, or the connection closed before its reply.</summary>
    public sealed class ImmersiVerseException : Exception
    {
        public readonly ErrorInfo Error;
        public readonly CloseInfo Close;

        public ImmersiVerseException(ErrorInfo error) : base(error.ToString()) { Error = error; }
        public ImmersiVerseException(CloseInfo close) : base("connection closed: " + close) { Close = close; }
    }
}
