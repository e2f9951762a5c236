// Close and error codes by range (docs/protocol.md §8, §9). Unknown codes are judged by range.
namespace ImmersiVerse
{
    public static class Codes
    {
        public const int NormalClosure = 1000;
        public const int AbnormalClosure = 1006;     // no close frame (dropped connection)
        public const int TokenExpired = 4003;
        public const int Unauthorized = 4500;
        public const int TokenRevoked = 4501;
        public const int UnsupportedProtocolVersion = 4502;
        public const int ProtocolViolation = 4503;

        public const int BadFrame = 1000;
        public const int InvalidValue = 1012;
        public const int AlreadyAuthenticated = 1101;
        public const int InvalidToken = 1102;
        public const int RateLimited = 1104;
        public const int NotFound = 1107;
        public const int Forbidden = 1108;
        public const int Conflict = 1109;
        public const int NotJoined = 1112;
        public const int UnknownRequest = 1113;

        /// <summary>§9: 4000–4499 reconnect, 4500–4999 terminal, 1000 a deliberate end;
        /// 1001, 1009, 1011 and any other code (1006 included) reconnect with backoff.</summary>
        public static bool CloseMayReconnect(int code)
        {
            if (code >= 4500 && code <= 4999) return false;
            if (code == NormalClosure) return false;
            return true;
        }

        /// <summary>§8: rate_limited, too_many_generations and the 1200 range may be retried.</summary>
        public static bool ErrorRetryable(int code)
        {
            return code == 1104 || code == 1105 || (code >= 1200 && code <= 1299);
        }
    }
}
