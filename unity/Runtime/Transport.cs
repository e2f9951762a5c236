// The socket behind a small interface, so that WebGL builds (no ClientWebSocket) can plug in the
// browser's WebSocket (Runtime/WebGL) and tests can plug in anything.
using System;
using System.Collections.Generic;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace ImmersiVerse
{
    public interface ITransport
    {
        /// <summary>False for browser sockets, which cannot set the Authorization header: the
        /// client then authenticates with `hello` (docs/protocol.md §3.1).</summary>
        bool SupportsHeaders { get; }

        /// <summary>Open the socket. Raises MessageReceived for each binary message and Closed once.</summary>
        Task ConnectAsync(Uri uri, IDictionary<string, string> headers, CancellationToken cancel);

        /// <summary>Send one binary message; safe to call from any thread.</summary>
        Task SendAsync(byte[] message);

        /// <summary>Close deliberately with a close code.</summary>
        Task CloseAsync(int code, string reason);

        /// <summary>Drop the connection without a close handshake (tests, network loss).</summary>
        void Abort();

        /// <summary>Raised on the transport's thread; the client hands it to its dispatcher.</summary>
        event Action<byte[]> MessageReceived;

        /// <summary>Raised once when the socket is closed: close code (1006 when there was no
        /// close frame) and reason.</summary>
        event Action<int, string> Closed;
    }

    /// <summary>System.Net.WebSockets.ClientWebSocket: Unity (not WebGL) and Mono. The receive loop
    /// runs on the thread pool; sends are serialised (ClientWebSocket allows one at a time).</summary>
    public sealed class ClientWebSocketTransport : ITransport
    {
        public const int MaxMessageBytes = 64 * 1024 * 1024;  // §2.5: accept large snapshot frames
        ClientWebSocket socket;
        readonly SemaphoreSlim sendLock = new SemaphoreSlim(1, 1);
        int closedRaised;

        public bool SupportsHeaders { get { return true; } }
        public event Action<byte[]> MessageReceived;
        public event Action<int, string> Closed;

        public async Task ConnectAsync(Uri uri, IDictionary<string, string> headers, CancellationToken cancel)
        {
            var ws = new ClientWebSocket();
            if (headers != null)
                foreach (var kv in headers) ws.Options.SetRequestHeader(kv.Key, kv.Value);
            socket = ws;
            closedRaised = 0;
            await ws.ConnectAsync(uri, cancel).ConfigureAwait(false);
            Task.Run(() => ReceiveLoop(ws)).Forget();
        }

        async Task ReceiveLoop(ClientWebSocket ws)
        {
            var buffer = new byte[64 * 1024];
            var message = new System.IO.MemoryStream();
            int code = Codes.AbnormalClosure;
            string reason = "connection lost";
            try
            {
                while (ws.State == WebSocketState.Open || ws.State == WebSocketState.CloseSent)
                {
                    var result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        code = ws.CloseStatus.HasValue ? (int)ws.CloseStatus.Value : 1005;
                        reason = ws.CloseStatusDescription ?? "";
                        if (ws.State == WebSocketState.CloseReceived)
                            await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None).ConfigureAwait(false);
                        break;
                    }
                    message.Write(buffer, 0, result.Count);
                    if (message.Length > MaxMessageBytes) { code = 1009; reason = "message too big"; ws.Abort(); break; }
                    if (!result.EndOfMessage) continue;
                    var bytes = message.ToArray();
                    message.SetLength(0);
                    // Text messages are not part of the protocol (§2.1); they are ignored.
                    if (result.MessageType == WebSocketMessageType.Binary)
                    {
                        var handler = MessageReceived;
                        if (handler != null) handler(bytes);
                    }
                }
            }
            catch (Exception)
            {
                // A dropped connection: reported below as 1006 unless a close frame was read.
                if (ws.CloseStatus.HasValue) { code = (int)ws.CloseStatus.Value; reason = ws.CloseStatusDescription ?? ""; }
            }
            RaiseClosed(code, reason);
        }

        void RaiseClosed(int code, string reason)
        {
            if (Interlocked.Exchange(ref closedRaised, 1) != 0) return;
            var handler = Closed;
            if (handler != null) handler(code, reason);
        }

        public async Task SendAsync(byte[] message)
        {
            var ws = socket;
            if (ws == null || ws.State != WebSocketState.Open) throw new InvalidOperationException("not connected");
            await sendLock.WaitAsync().ConfigureAwait(false);
            try
            {
                await ws.SendAsync(new ArraySegment<byte>(message), WebSocketMessageType.Binary, true, CancellationToken.None).ConfigureAwait(false);
            }
            finally { sendLock.Release(); }
        }

        public async Task CloseAsync(int code, string reason)
        {
            var ws = socket;
            if (ws == null) return;
            try
            {
                if (ws.State == WebSocketState.Open)
                {
                    using (var cts = new CancellationTokenSource(5000))
                        await ws.CloseAsync((WebSocketCloseStatus)code, reason, cts.Token).ConfigureAwait(false);
                }
            }
            catch (Exception) { ws.Abort(); }
            RaiseClosed(code, reason);
        }

        public void Abort()
        {
            var ws = socket;
            if (ws != null) ws.Abort();
        }
    }
}
