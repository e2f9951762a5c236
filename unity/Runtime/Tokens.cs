// Token lifetime (docs/protocol.md §3.4): swap the token on the open socket with auth.refresh,
// and — with a TokenProvider — do so on its own shortly before the token expires.
using System;
using System.Collections.Generic;
using System.Text;
using System.Threading.Tasks;

namespace ImmersiVerse
{
    public sealed partial class ImmersiVerseClient
    {
        bool refreshing;
        DateTime refreshFailedAt = DateTime.MinValue;

        /// <summary>Raised after every successful auth.refresh (manual or automatic).</summary>
        public event Action<AuthOk> TokenRefreshed;

        /// <summary>Replace the session's token in place (§3.4); later reconnects use it too.</summary>
        public Task<AuthOk> RefreshTokenAsync(string token)
        {
            var frame = new Dictionary<string, object> { { "type", "auth.refresh" }, { "token", token } };
            return Request(frame, f =>
            {
                Options.Token = token;
                var ok = AuthOk.FromMap(f);
                Raise(TokenRefreshed, ok);
                return ok;
            });
        }

        /// <summary>The `exp` claim of a JWT (unix seconds), read without verifying the token:
        /// only to know when to refresh it. Null when the token is not a JWT with `exp`.</summary>
        public static double? TokenExpiry(string token)
        {
            var claims = TokenClaims(token);
            double exp;
            return claims != null && Wire.ToDouble(Wire.Get(claims, "exp"), out exp) ? (double?)exp : null;
        }

        static Dictionary<string, object> TokenClaims(string token)
        {
            var parts = token == null ? null : token.Split('.');
            if (parts == null || parts.Length != 3) return null;
            try
            {
                string b64 = parts[1].Replace('-', '+').Replace('_', '/');
                b64 += new string('=', (4 - b64.Length % 4) % 4);
                return Json.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(b64))) as Dictionary<string, object>;
            }
            catch (FormatException) { return null; }
        }

        /// <summary>When to refresh: RefreshBeforeExpirySeconds before `exp`, but never earlier
        /// than half the token's lifetime (`iat` to `exp`), so short-lived tokens do not loop.</summary>
        double? RefreshDue()
        {
            var claims = TokenClaims(Options.Token);
            double exp, iat;
            if (claims == null || !Wire.ToDouble(Wire.Get(claims, "exp"), out exp)) return null;
            double lead = Options.RefreshBeforeExpirySeconds;
            if (Wire.ToDouble(Wire.Get(claims, "iat"), out iat)) lead = Math.Min(lead, (exp - iat) / 2);
            return exp - lead;
        }

        void TickTokenRefresh()
        {
            // §3.4: refresh a minute or so before expires_at, so the session never sees 4003.
            var provider = Options.TokenProvider;
            double lead = Options.RefreshBeforeExpirySeconds;
            if (provider == null || lead <= 0 || refreshing || (DateTime.UtcNow - refreshFailedAt).TotalSeconds < 5) return;
            double? due = RefreshDue();
            if (!due.HasValue || TelemetryEvent.Now() < due.Value) return;
            refreshing = true;
            int id = connection;
            provider().Then(t => Dispatcher.Post(() =>
            {
                if (t.Status != TaskStatus.RanToCompletion || t.Result == null || id != connection || !IsConnected)
                {
                    refreshing = false;
                    refreshFailedAt = DateTime.UtcNow;
                    return;
                }
                RefreshTokenAsync(t.Result).Then(r => Dispatcher.Post(() =>
                {
                    refreshing = false;
                    if (r.Status != TaskStatus.RanToCompletion)
                    {
                        refreshFailedAt = DateTime.UtcNow;
                        Log("token refresh failed: " + r.Exception.GetBaseException().Message);
                    }
                }));
            }));
        }
    }
}
