// WebGL builds have no ClientWebSocket: this transport drives the browser's WebSocket through
// ImmersiVerseWebSocket.jslib. Browsers cannot set headers, so the client authenticates with
// `hello` (docs/protocol.md §3.1). The jslib queues binary messages; this class polls the queue
// once per frame (await Task.Yield() resumes on Unity's main thread next frame), so no callbacks
// cross from JavaScript into C#.
#if UNITY_WEBGL && !UNITY_EDITOR
using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace ImmersiVerse
{
    public sealed class WebGLTransport : ITransport
    {
        [DllImport("__Internal")] static extern int IVWS_Open(string url);
        [DllImport("__Internal")] static extern int IVWS_State(int id);
        [DllImport("__Internal")] static extern int IVWS_Send(int id, byte[] data, int length);
        [DllImport("__Internal")] static extern int IVWS_NextLength(int id);
        [DllImport("__Internal")] static extern int IVWS_Receive(int id, byte[] buffer, int length);
        [DllImport("__Internal")] static extern int IVWS_CloseCode(int id);
        [DllImport("__Internal")] static extern void IVWS_Close(int id, int code);
        [DllImport("__Internal")] static extern void IVWS_Free(int id);

        const int Connecting = 0, Open = 1, Closed_ = 3;
        int id = -1;
        bool closedRaised;

        public bool SupportsHeaders { get { return false; } }
        public event Action<byte[]> MessageReceived;
        public event Action<int, string> Closed;

        public async Task ConnectAsync(Uri uri, IDictionary<string, string> headers, CancellationToken cancel)
        {
            id = IVWS_Open(uri.ToString());
            while (IVWS_State(id) == Connecting)
            {
                cancel.ThrowIfCancellationRequested();
                await Task.Yield();
            }
            if (IVWS_State(id) != Open) { Poll(); throw new IOException("WebSocket connect failed"); }
            PollLoop();
        }

        async void PollLoop()
        {
            while (!closedRaised)
            {
                Poll();
                await Task.Yield();
            }
        }

        void Poll()
        {
            int n;
            while (id >= 0 && (n = IVWS_NextLength(id)) >= 0)
            {
                var buffer = new byte[n];
                IVWS_Receive(id, buffer, n);
                var handler = MessageReceived;
                if (handler != null) handler(buffer);
            }
            if (id >= 0 && IVWS_State(id) == Closed_) RaiseClosed(IVWS_CloseCode(id));
        }

        void RaiseClosed(int code)
        {
            if (closedRaised) return;
            closedRaised = true;
            IVWS_Free(id);
            id = -1;
            var handler = Closed;
            if (handler != null) handler(code == 0 ? Codes.AbnormalClosure : code, "");
        }

        public Task SendAsync(byte[] message)
        {
            if (id < 0 || IVWS_Send(id, message, message.Length) != 0) throw new InvalidOperationException("not connected");
            return Task.FromResult(0);
        }

        public Task CloseAsync(int code, string reason)
        {
            if (id >= 0) IVWS_Close(id, code);
            return Task.FromResult(0);
        }

        public void Abort()
        {
            if (id >= 0) IVWS_Close(id, Codes.NormalClosure);
        }
    }
}
#endif
