// Delivers the client's events on one thread. In Unity that is the main thread: the dispatcher
// posts to the SynchronizationContext captured when it was made (UnitySynchronizationContext).
// Without a context (console programs, tests) actions queue until Pump() runs them.
using System;
using System.Collections.Concurrent;
using System.Threading;

namespace ImmersiVerse
{
    public sealed class Dispatcher
    {
        readonly SynchronizationContext context;
        readonly ConcurrentQueue<Action> queue = new ConcurrentQueue<Action>();

        /// <summary>Called with exceptions thrown by event handlers (they never stop delivery).</summary>
        public Action<Exception> OnHandlerError = e => Console.Error.WriteLine("ImmersiVerse handler error: " + e);

        Dispatcher(SynchronizationContext context) { this.context = context; }

        /// <summary>Capture the calling thread's SynchronizationContext (call on Unity's main thread);
        /// falls back to a manual dispatcher when there is none.</summary>
        public static Dispatcher CaptureCurrent() { return new Dispatcher(SynchronizationContext.Current); }

        /// <summary>A dispatcher that runs actions only when Pump() is called.</summary>
        public static Dispatcher Manual() { return new Dispatcher(null); }

        public bool IsManual { get { return context == null; } }

        public void Post(Action action)
        {
            if (context != null) context.Post(Run, action);
            else queue.Enqueue(action);
        }

        /// <summary>Run the queued actions (manual mode); returns how many ran.</summary>
        public int Pump(int max = int.MaxValue)
        {
            int n = 0;
            Action action;
            while (n < max && queue.TryDequeue(out action)) { Run(action); n++; }
            return n;
        }

        void Run(object state)
        {
            try { ((Action)state)(); }
            catch (Exception e) { OnHandlerError(e); }
        }
    }
}
