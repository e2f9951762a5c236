// Conformance harness: the SDK's runtime code against a real server (unity/conformance.sh).
// Events are delivered through one manual Dispatcher that the waits below pump, exactly as a
// program outside Unity would use the SDK.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace ImmersiVerse.Conformance
{
    sealed class Check : Exception
    {
        public Check(string message) : base(message) { }
    }

    static partial class Harness
    {
        public const double TimeoutSeconds = 20;
        static readonly Dispatcher Pump = Dispatcher.Manual();
        static readonly List<ImmersiVerseClient> Clients = new List<ImmersiVerseClient>();
        static string baseUrl, specPath;
        static int passed, failed;
        static readonly List<string> failures = new List<string>();
        static int users;

        static int Main(string[] args)
        {
            if (args.Length == 2 && args[0] == "--export-catalog") return ExportSampleCatalog(args[1]);
            if (args.Length < 2) { Console.Error.WriteLine("usage: Harness.exe BASE_URL docs/protocol.md [scenario...]"); return 2; }
            baseUrl = args[0].TrimEnd('/');
            specPath = args[1];
            var only = new HashSet<string>();
            for (int i = 2; i < args.Length; i++) only.Add(args[i]);
            Pump.OnHandlerError = e => Console.WriteLine("  handler error: " + e);
            foreach (var s in Scenarios())
            {
                // Scenarios named "<kind>:<name>" need a particular server and run only when named.
                if (only.Count > 0 ? !only.Contains(s.Key) : s.Key.Contains(":")) continue;
                Run(s.Key, s.Value);
            }
            foreach (var f in failures) Console.WriteLine("FAILED " + f);
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed == 0 ? 0 : 1;
        }

        /// <summary>Writes a catalog file as the Editor exporter does (tests/unity imports it with
        /// `immersiverse catalog import`).</summary>
        static int ExportSampleCatalog(string path)
        {
            var entries = new List<CatalogEntry>();
            string[] names = { "Market Stall (Red)", "Old Well", "Street Lamp 02" };
            string[] types = { "building", "prop", "lighting" };
            for (int i = 0; i < names.Length; i++)
            {
                entries.Add(new CatalogEntry
                {
                    Id = CatalogEntry.IdFromName(names[i]), Name = names[i], Type = types[i],
                    Description = "Exported from Unity: " + names[i], Tags = new List<string> { "exported", "village" },
                    WorldTypes = new List<string> { "historical" }, DownloadUrl = "https://assets.example/" + CatalogEntry.IdFromName(names[i]),
                    ThumbnailUrl = "https://assets.example/thumbs/" + CatalogEntry.IdFromName(names[i]) + ".png",
                    SizeBytes = 1000 + i, Width = 2.5 + i, Depth = 1.5, Height = 3, Solid = i != 2,
                });
            }
            System.IO.File.WriteAllText(path, CatalogFile.Write("unity-export-1", entries));
            bool refused = false;
            try { CatalogFile.Write(null, new[] { new CatalogEntry { Id = "Bad Id", Name = "x" } }); }
            catch (ArgumentException) { refused = true; }
            if (!refused) { Console.Error.WriteLine("an invalid row was not refused"); return 1; }
            Console.WriteLine("wrote " + path);
            return 0;
        }

        static void Run(string name, Action body)
        {
            var watch = Stopwatch.StartNew();
            try
            {
                body();
                passed++;
                Console.WriteLine(string.Format("ok   {0} ({1} ms)", name, watch.ElapsedMilliseconds));
            }
            catch (Exception e)
            {
                failed++;
                var inner = e is AggregateException ? e.GetBaseException() : e;
                string why = inner is Check ? inner.Message : inner.ToString();
                failures.Add(name + ": " + why);
                Console.WriteLine("FAIL " + name + ": " + why);
            }
            finally
            {
                foreach (var c in Clients) c.Dispose();
                Clients.Clear();
                Pump.Pump();
            }
        }

        // ---- helpers ----

        public static void Ok(bool condition, string what)
        {
            if (!condition) throw new Check(what);
        }

        public static void Eq<T>(T expected, T actual, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
                throw new Check(what + ": expected " + expected + ", got " + actual);
        }

        /// <summary>Pump the dispatcher until the condition holds (bounded by TimeoutSeconds).</summary>
        public static void Until(Func<bool> condition, string what, double timeoutSeconds = TimeoutSeconds)
        {
            var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
            while (true)
            {
                Pump.Pump();
                if (condition()) return;
                if (DateTime.UtcNow > deadline) throw new Check("timed out waiting for " + what);
                Thread.Sleep(2);
            }
        }

        public static T Wait<T>(Task<T> task, string what)
        {
            Until(() => task.IsCompleted, what);
            if (task.IsFaulted) throw new Check(what + " failed: " + task.Exception.GetBaseException().Message);
            if (task.IsCanceled) throw new Check(what + " was cancelled");
            return task.Result;
        }

        /// <summary>The exception a task failed with (the test expects a failure).</summary>
        public static ImmersiVerseException Fails<T>(Task<T> task, string what)
        {
            Until(() => task.IsCompleted, what);
            Ok(task.IsFaulted, what + " should have failed but succeeded");
            var e = task.Exception.GetBaseException() as ImmersiVerseException;
            Ok(e != null, what + " failed with " + task.Exception.GetBaseException());
            return e;
        }

        public static T Blocking<T>(Task<T> task, string what)
        {
            if (!task.Wait(TimeSpan.FromSeconds(TimeoutSeconds))) throw new Check("timed out: " + what);
            return task.Result;
        }

        public static RestClient Rest() { return new RestClient(baseUrl); }

        public static string NewUser(string role)
        {
            return "cs_" + role + "_" + Process.GetCurrentProcess().Id + "_" + Interlocked.Increment(ref users);
        }

        public static AuthSession Login(RestClient rest, string user)
        {
            return Blocking(rest.LoginGuestAsync(user), "login " + user);
        }

        public static ImmersiVerseClient NewClient(string token, bool hello = false, bool autoReconnect = true)
        {
            var options = new ClientOptions
            {
                Url = Rest().SocketUrl, Token = token, UseHello = hello, AutoReconnect = autoReconnect,
                Backoff = new Backoff { InitialSeconds = 0.05, MaxSeconds = 0.5, MaxAttempts = 20 },
                TelemetryFlushSeconds = 0,
                Log = m => { if (Environment.GetEnvironmentVariable("HARNESS_VERBOSE") != null) Console.WriteLine("  log: " + m); },
            };
            var c = new ImmersiVerseClient(options, Pump);
            Clients.Add(c);
            return c;
        }

        /// <summary>A logged-in, connected client (header token unless hello).</summary>
        public static ImmersiVerseClient Connected(string user, bool hello = false, bool autoReconnect = true)
        {
            var s = Login(Rest(), user);
            var c = NewClient(s.Token, hello, autoReconnect);
            Wait(c.ConnectAsync(), "connect " + user);
            return c;
        }

        public static CloseInfo WaitClosed(ImmersiVerseClient c, string what)
        {
            CloseInfo info = null;
            c.Disconnected += i => info = i;
            Until(() => info != null || (c.LastClose != null && c.State == ClientState.Closed), what);
            return info ?? c.LastClose;
        }
    }
}
