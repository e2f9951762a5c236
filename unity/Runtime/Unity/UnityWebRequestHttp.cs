// IHttp over UnityWebRequest, for WebGL builds (HttpWebRequest does not exist there). In a browser
// the HTTP cache may answer a revalidation itself, so a 304 can arrive as a 200 with the body.
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Threading.Tasks;
using UnityEngine.Networking;

namespace ImmersiVerse.Unity
{
    public sealed class UnityWebRequestHttp : IHttp
    {
        public Task<HttpResult> SendAsync(string method, string url, IDictionary<string, string> headers, string jsonBody)
        {
            var tcs = new TaskCompletionSource<HttpResult>();
            var req = new UnityWebRequest(url, method) { downloadHandler = new DownloadHandlerBuffer() };
            if (jsonBody != null)
            {
                req.uploadHandler = new UploadHandlerRaw(Encoding.UTF8.GetBytes(jsonBody));
                req.SetRequestHeader("Content-Type", "application/json");
            }
            if (headers != null)
                foreach (var kv in headers) req.SetRequestHeader(kv.Key, kv.Value);
            req.SendWebRequest().completed += _ =>
            {
                if (req.responseCode == 0)
                    tcs.SetException(new IOException(req.error ?? "request failed"));
                else
                {
                    var result = new HttpResult { Status = (int)req.responseCode, Body = req.downloadHandler.text };
                    var received = req.GetResponseHeaders();
                    if (received != null) foreach (var kv in received) result.Headers[kv.Key] = kv.Value;
                    tcs.SetResult(result);
                }
                req.Dispose();
            };
            return tcs.Task;
        }
    }
}
