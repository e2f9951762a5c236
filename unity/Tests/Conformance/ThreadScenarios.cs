// Threading and liveness: events on a captured SynchronizationContext (Unity's main-thread
// path), heartbeats, and a real 4000 close that the client reconnects from (§4.2, §9).
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ImmersiVerse.Conformance
{
    /// <summary>A SynchronizationContext with one thread, like UnitySynchronizationContext.</summary>
    sealed class SingleThreadContext : SynchronizationContext, IDisposable
    {
        readonly BlockingCollection<KeyValuePair<SendOrPostCallback, object>> queue = new BlockingCollection<KeyValuePair<SendOrPostCallback, object>>();
        public readonly Thread Thread;

        public SingleThreadContext()
        {
            Thread = new Thread(() =>
            {
                SetSynchronizationContext(this);
                foreach (var item in queue.GetConsumingEnumerable()) item.Key(item.Value);
            }) { IsBackground = true, Name = "main" };
            Thread.Start();
        }

        public override void Post(SendOrPostCallback d, object state) { queue.Add(new KeyValuePair<SendOrPostCallback, object>(d, state)); }

        public void Dispose() { queue.CompleteAdding(); }
    }

    static partial class Harness
    {
        static void EventsOnCapturedContext()
        {
            using (var main = new SingleThreadContext())
            {
                var threads = new ConcurrentBag<int>();
                var finished = new TaskCompletionSource<GenDone>();
                string token = Login(Rest(), NewUser("ctx")).Token;
                ImmersiVerseClient client = null;
                main.Post(_ =>
                {
                    // Made on the context's thread: the dispatcher captures its context, as in Unity.
                    client = new ImmersiVerseClient(new ClientOptions { Url = Rest().SocketUrl, Token = token, TelemetryFlushSeconds = 0 });
                    client.Connected += w => threads.Add(Thread.CurrentThread.ManagedThreadId);
                    client.GenerationStarted += s => threads.Add(Thread.CurrentThread.ManagedThreadId);
                    client.ChunkReceived += c => threads.Add(Thread.CurrentThread.ManagedThreadId);
                    client.ConnectAsync().Then(t =>
                    {
                        if (t.IsFaulted) { finished.TrySetException(t.Exception); return; }
                        main.Post(__ =>
                        {
                            var g = client.Generate(Prompt, new GenerateOptions { MaxInstances = 300 });
                            g.Done += d => { threads.Add(Thread.CurrentThread.ManagedThreadId); finished.TrySetResult(d); };
                            g.Failed += e => finished.TrySetException(new ImmersiVerseException(e));
                        }, null);
                    });
                }, null);
                var done = Blocking(finished.Task, "generation on the context thread");
                Eq("complete", done.Status, "status");
                Ok(threads.Count >= 4, "events seen: " + threads.Count);
                foreach (var id in threads) Eq(main.Thread.ManagedThreadId, id, "event thread");
                Ok(Dispatcher.CaptureCurrent().IsManual, "the harness thread has no context, so a dispatcher made here is manual");
                main.Post(_ => client.Dispose(), null);
            }
        }

        // The four below need a server started with idle_timeout_s = 2, heartbeat_s = 0.5 and
        // token_ttl_s = 8 (tests/unity runs them against their own server).

        static void IdleCloseReconnects()
        {
            var s = Login(Rest(), NewUser("idle"));
            var c = NewClient(s.Token);
            c.Options.TickMilliseconds = 0;     // no heartbeat: the server closes the idle session
            var closes = new List<CloseInfo>();
            int welcomes = 0;
            c.Disconnected += i => closes.Add(i);
            Wait(c.ConnectAsync(), "connect");
            c.Connected += w => welcomes++;
            Until(() => welcomes >= 1, "a reconnect after the idle close");
            Eq(4000, closes[0].Code, "idle close code (closes: " + string.Join("; ", closes) + ")");
            Ok(closes[0].FromBye && closes[0].WillReconnect, "4000 comes with a bye and is reconnected: " + closes[0]);
        }

        static void HeartbeatKeepsSessionOpen()
        {
            var s = Login(Rest(), NewUser("beat"));
            var c = NewClient(s.Token);
            c.Options.TickMilliseconds = 100;
            int pongs = 0, closes = 0;
            c.FrameReceived += f => { if (Wire.Str(f, "type") == "pong") pongs++; };
            c.Disconnected += i => closes++;
            Wait(c.ConnectAsync(), "connect");
            Ok(c.Welcome.HeartbeatSeconds <= 1 && c.Welcome.Limit("idle_timeout_s", 0) <= 5, "needs a server with a short idle timeout");
            // Seven heartbeats span well over the 2 s idle timeout (and stay within the token's 8 s).
            Until(() => pongs >= 7 || closes > 0, "seven heartbeats");
            Eq(0, closes, "closes while sending heartbeats");
        }
    
        static void TokenExpiredReconnects()
        {
            var rest = Rest();
            string user = NewUser("expiring");
            var c = NewClient(Login(rest, user).Token);
            c.Options.RefreshBeforeExpirySeconds = 0;   // no refresh in place: let it expire
            int asked = 0, welcomes = 0;
            c.Options.TokenProvider = () => { asked++; return rest.LoginGuestAsync(user).ContinueWith(t => t.Result.Token); };
            var closes = new List<CloseInfo>();
            c.Disconnected += i => closes.Add(i);
            Wait(c.ConnectAsync(), "connect");
            c.Connected += w => welcomes++;
            Until(() => welcomes >= 1, "the reconnect after the token expired");
            // Every close with its reason: "connect failed", "connection lost" or the bye's reason.
            Eq(Codes.TokenExpired, closes[0].Code, "close code (closes: " + string.Join("; ", closes) + ")");
            Ok(closes[0].FromBye && closes[0].WillReconnect, "4003 comes with a bye and is reconnected: " + closes[0]);
            Eq(1, asked, "the token provider was asked once");
            Eq(rest.Token, c.Options.Token, "the new token is used");
        }
    
        static void TokenRefreshedBeforeExpiry()
        {
            var rest = Rest();
            var s = Login(rest, NewUser("renewing"));
            var c = NewClient(s.Token);
            double firstExpiry = ImmersiVerseClient.TokenExpiry(s.Token).Value;
            c.Options.TokenProvider = () => rest.RefreshAsync().ContinueWith(t => t.Result.Token);
            var refreshed = new List<AuthOk>();
            int closes = 0;
            c.TokenRefreshed += ok => refreshed.Add(ok);
            c.Disconnected += i => closes++;
            Wait(c.ConnectAsync(), "connect");
            Until(() => refreshed.Count >= 1 || closes > 0, "a refresh before the token expires");
            Eq(0, closes, "closes before the refresh");
            Ok(refreshed[0].ExpiresAt > firstExpiry, "the new token lives longer");
            // The first token's expiry passes without a 4003: the session runs on the new token.
            Until(() => TelemetryEvent.Now() > firstExpiry + 1 || closes > 0, "the first token's expiry to pass");
            Eq(0, closes, "closes after the first token expired");
            Wait(c.PingAsync(), "ping on the refreshed session");
        }
    }
}
