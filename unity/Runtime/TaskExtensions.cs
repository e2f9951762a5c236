using System;
using System.Threading.Tasks;

namespace ImmersiVerse
{
    /// <summary>Continuations that run synchronously on the thread that completed the task. The
    /// SDK's continuations only post to the Dispatcher, and WebGL builds have no thread pool to
    /// run them on.</summary>
    public static class TaskExtensions
    {
        public static Task Then(this Task task, Action<Task> next)
        {
            return task.ContinueWith(next, TaskContinuationOptions.ExecuteSynchronously);
        }

        public static Task Then<T>(this Task<T> task, Action<Task<T>> next)
        {
            return task.ContinueWith(next, TaskContinuationOptions.ExecuteSynchronously);
        }

        /// <summary>Observe a fire-and-forget task's exception so it is never reported as unobserved.</summary>
        public static void Forget(this Task task)
        {
            task.ContinueWith(t => { var ignored = t.Exception; }, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
        }
    }
}
