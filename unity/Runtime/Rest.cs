// The REST calls a Unity client needs: login and token refresh, sharing a world, and catalog
// reads with ETag caching (If-None-Match → 304 serves the cached page).
using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Text;
using System.Threading.Tasks;

namespace ImmersiVerse
{
    public sealed class HttpResult
    {
        public int Status;
        public string Body;
        public readonly Dictionary<string, string> Headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>HTTP behind an interface: HttpWebRequest by default; WebGL builds plug in
    /// UnityWebRequest (Runtime/Unity/UnityWebRequestHttp.cs).</summary>
    public interface IHttp
    {
        Task<HttpResult> SendAsync(string method, string url, IDictionary<string, string> headers, string jsonBody);
    }

    public sealed class WebRequestHttp : IHttp
    {
        public int TimeoutMilliseconds = 15000;

        public async Task<HttpResult> SendAsync(string method, string url, IDictionary<string, string> headers, string jsonBody)
        {
            var req = (HttpWebRequest)WebRequest.Create(url);
            req.Method = method;
            req.Timeout = TimeoutMilliseconds;
            req.Accept = "application/json";
            if (headers != null)
                foreach (var kv in headers)
                {
                    if (string.Equals(kv.Key, "If-None-Match", StringComparison.OrdinalIgnoreCase)) req.Headers[HttpRequestHeader.IfNoneMatch] = kv.Value;
                    else req.Headers[kv.Key] = kv.Value;
                }
            if (jsonBody != null)
            {
                var bytes = Encoding.UTF8.GetBytes(jsonBody);
                req.ContentType = "application/json";
                using (var s = await req.GetRequestStreamAsync().ConfigureAwait(false)) s.Write(bytes, 0, bytes.Length);
            }
            HttpWebResponse resp;
            try { resp = (HttpWebResponse)await req.GetResponseAsync().ConfigureAwait(false); }
            catch (WebException e)
            {
                // Non-2xx answers (304 included) arrive as exceptions carrying the response.
                resp = e.Response as HttpWebResponse;
                if (resp == null) throw;
            }
            using (resp)
            {
                var result = new HttpResult { Status = (int)resp.StatusCode };
                foreach (string key in resp.Headers.AllKeys) result.Headers[key] = resp.Headers[key];
                using (var reader = new StreamReader(resp.GetResponseStream(), Encoding.UTF8)) result.Body = await reader.ReadToEndAsync().ConfigureAwait(false);
                return result;
            }
        }
    }

    public sealed class RestException : Exception
    {
        public readonly int Status;
        public RestException(int status, string body) : base("HTTP " + status + ": " + body) { Status = status; }
    }

    public sealed class AuthSession
    {
        public string Token, UserId, SessionId, DisplayName, ExpiresAt;
        /// <summary>The id others see for this account (cards, members, op authors); never a login.</summary>
        public string PublicId;
        /// <summary>A guest's device secret, present once, on the login that issued it: store it and send it with later logins.</summary>
        public string DeviceSecret;
    }

    public sealed class CatalogPage
    {
        public List<Dictionary<string, object>> Prefabs = new List<Dictionary<string, object>>();
        public long TotalCount;
        public string ETag;
        public bool FromCache;           // the server answered 304 Not Modified
    }

    public sealed class RestClient
    {
        public readonly string BaseUrl;
        public string Token;
        readonly IHttp http;
        readonly Dictionary<string, KeyValuePair<string, string>> etagCache = new Dictionary<string, KeyValuePair<string, string>>();

        public RestClient(string baseUrl, IHttp http = null)
        {
            BaseUrl = baseUrl.TrimEnd('/');
            this.http = http ?? new WebRequestHttp();
        }

        /// <summary>ws(s)://host:port/ws for an http(s) base URL (docs/protocol.md §2.1).</summary>
        public string SocketUrl
        {
            get
            {
                if (BaseUrl.StartsWith("https://")) return "wss://" + BaseUrl.Substring(8) + "/ws";
                if (BaseUrl.StartsWith("http://")) return "ws://" + BaseUrl.Substring(7) + "/ws";
                return BaseUrl + "/ws";
            }
        }

        Dictionary<string, string> Auth()
        {
            var h = new Dictionary<string, string>();
            if (Token != null) h["Authorization"] = "Bearer " + Token;
            return h;
        }

        async Task<Dictionary<string, object>> Call(string method, string path, object body)
        {
            var r = await http.SendAsync(method, BaseUrl + path, Auth(), body == null ? null : Json.Write(body)).ConfigureAwait(false);
            if (r.Status < 200 || r.Status >= 300) throw new RestException(r.Status, r.Body);
            return Json.Parse(r.Body) as Dictionary<string, object>;
        }

        AuthSession TakeSession(Dictionary<string, object> m)
        {
            var s = new AuthSession
            {
                Token = Wire.Str(m, "token"), UserId = Wire.Str(m, "user_id"), SessionId = Wire.Str(m, "session_id"),
                DisplayName = Wire.Str(m, "display_name"), ExpiresAt = Wire.Str(m, "expires_at"),
                PublicId = Wire.Str(m, "public_id"), DeviceSecret = Wire.Str(m, "device_secret"),
            };
            Token = s.Token;
            return s;
        }

        /// <summary>Guest/device login with a user id (POST /api/v1/auth/login).</summary>
        public async Task<AuthSession> LoginGuestAsync(string userId)
        {
            return TakeSession(await Call("POST", "/api/v1/auth/login", new Dictionary<string, object> { { "user_id", userId } }).ConfigureAwait(false));
        }

        public async Task<AuthSession> LoginAsync(string username, string password)
        {
            var body = new Dictionary<string, object> { { "username", username }, { "password", password } };
            return TakeSession(await Call("POST", "/api/v1/auth/login", body).ConfigureAwait(false));
        }

        /// <summary>A fresh token for the same session (POST /api/v1/auth/refresh); hand it to
        /// ImmersiVerseClient.RefreshTokenAsync to swap it on the open socket.</summary>
        public async Task<AuthSession> RefreshAsync()
        {
            return TakeSession(await Call("POST", "/api/v1/auth/refresh", new Dictionary<string, object>()).ConfigureAwait(false));
        }

        /// <summary>Revokes the session's tokens; open sockets close with 4501.</summary>
        public Task LogoutAsync() { return Call("POST", "/api/v1/auth/logout", new Dictionary<string, object>()); }

        /// <summary>Let another user join your world (role editor or viewer; "none" removes).</summary>
        public Task ShareWorldAsync(string worldId, string userId, string role)
        {
            return Call("POST", "/api/v1/worlds/" + Uri.EscapeDataString(worldId) + "/share",
                new Dictionary<string, object> { { "user_id", userId }, { "role", role } });
        }

        /// <summary>Delete a world you own; its members get `error` not_found with its world_id.</summary>
        public Task DeleteWorldAsync(string worldId)
        {
            return Call("DELETE", "/api/v1/worlds/" + Uri.EscapeDataString(worldId), null);
        }

        public Task SetVisibilityAsync(string worldId, string visibility)
        {
            return Call("PUT", "/api/v1/worlds/" + Uri.EscapeDataString(worldId) + "/visibility",
                new Dictionary<string, object> { { "visibility", visibility } });
        }

        /// <summary>One catalog page (GET /api/v1/prefab-catalog/). Pages are cached with their
        /// ETag; a repeat read sends If-None-Match and a 304 is served from the cache.</summary>
        public async Task<CatalogPage> GetCatalogAsync(string prefabType = null, int limit = 100, int offset = 0)
        {
            string path = "/api/v1/prefab-catalog/?limit=" + limit + "&offset=" + offset
                + (prefabType == null ? "" : "&prefab_type=" + Uri.EscapeDataString(prefabType));
            var headers = Auth();
            KeyValuePair<string, string> cached;
            bool have;
            lock (etagCache) have = etagCache.TryGetValue(path, out cached);
            if (have) headers["If-None-Match"] = cached.Key;
            var r = await http.SendAsync("GET", BaseUrl + path, headers, null).ConfigureAwait(false);
            string body;
            bool fromCache = false;
            if (r.Status == 304 && have) { body = cached.Value; fromCache = true; }
            else if (r.Status >= 200 && r.Status < 300)
            {
                body = r.Body;
                string etag;
                if (r.Headers.TryGetValue("ETag", out etag)) lock (etagCache) etagCache[path] = new KeyValuePair<string, string>(etag, body);
            }
            else throw new RestException(r.Status, r.Body);
            var m = Json.Parse(body) as Dictionary<string, object>;
            var page = new CatalogPage { TotalCount = Wire.Long(m, "total_count"), FromCache = fromCache };
            string tag;
            page.ETag = r.Headers.TryGetValue("ETag", out tag) ? tag : (have ? cached.Key : null);
            foreach (var p in Wire.List(m, "prefabs")) { var pm = p as Dictionary<string, object>; if (pm != null) page.Prefabs.Add(pm); }
            return page;
        }
    }
}
