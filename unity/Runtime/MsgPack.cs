// A compact MessagePack reader and writer for the JSON-like subset the protocol uses
// (docs/protocol.md §2.3): nil, bool, int, float, str, bin, array, map with str keys.
// Decoded values: null, bool, long (ulong above long.MaxValue), double, string, byte[],
// List<object>, Dictionary<string, object>. No third-party code, no UnityEngine.
using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace ImmersiVerse
{
    /// <summary>A frame that is not valid msgpack, or holds a type the protocol never sends.</summary>
    public sealed class MsgPackException : Exception
    {
        public MsgPackException(string message) : base(message) { }
    }

    public static class MsgPack
    {
        static readonly UTF8Encoding Utf8 = new UTF8Encoding(false, true);

        public static byte[] Encode(object value)
        {
            var stream = new MemoryStream(64);
            Write(stream, value);
            return stream.ToArray();
        }

        /// <summary>Decode exactly one value; trailing bytes are an error (§2.1).</summary>
        public static object Decode(byte[] data)
        {
            return Decode(data, 0, data.Length);
        }

        public static object Decode(byte[] data, int offset, int count)
        {
            var reader = new Reader(data, offset, count);
            object value = reader.ReadValue(0);
            if (reader.Position != offset + count)
                throw new MsgPackException("trailing bytes after the msgpack value");
            return value;
        }

        // ---- writer ----

        public static void Write(Stream s, object value)
        {
            if (value == null) { s.WriteByte(0xc0); return; }
            if (value is bool) { s.WriteByte((bool)value ? (byte)0xc3 : (byte)0xc2); return; }
            if (value is string) { WriteString(s, (string)value); return; }
            if (value is int) { WriteInt(s, (int)value); return; }
            if (value is long) { WriteInt(s, (long)value); return; }
            if (value is double) { WriteDouble(s, (double)value); return; }
            if (value is float) { WriteDouble(s, (float)value); return; }
            if (value is ulong)
            {
                ulong u = (ulong)value;
                if (u <= long.MaxValue) WriteInt(s, (long)u);
                else { s.WriteByte(0xcf); WriteBE(s, u, 8); }
                return;
            }
            if (value is uint) { WriteInt(s, (uint)value); return; }
            if (value is short) { WriteInt(s, (short)value); return; }
            if (value is ushort) { WriteInt(s, (ushort)value); return; }
            if (value is byte) { WriteInt(s, (byte)value); return; }
            if (value is sbyte) { WriteInt(s, (sbyte)value); return; }
            if (value is byte[]) { WriteBin(s, (byte[])value); return; }
            var dict = value as IDictionary;
            if (dict != null)
            {
                WriteHeader(s, dict.Count, 0x80, 0xde, 0xdf, 16);
                foreach (DictionaryEntry e in dict)
                {
                    var key = e.Key as string;
                    if (key == null) throw new MsgPackException("map keys must be strings");
                    WriteString(s, key);
                    Write(s, e.Value);
                }
                return;
            }
            var list = value as IList;
            if (list != null)
            {
                WriteHeader(s, list.Count, 0x90, 0xdc, 0xdd, 16);
                for (int i = 0; i < list.Count; i++) Write(s, list[i]);
                return;
            }
            var mappable = value as IWireMap;
            if (mappable != null) { Write(s, mappable.ToMap()); return; }
            throw new MsgPackException("cannot encode a " + value.GetType().Name);
        }

        public static void WriteInt(Stream s, long v)
        {
            if (v >= 0)
            {
                if (v < 128) s.WriteByte((byte)v);
                else if (v <= byte.MaxValue) { s.WriteByte(0xcc); s.WriteByte((byte)v); }
                else if (v <= ushort.MaxValue) { s.WriteByte(0xcd); WriteBE(s, (ulong)v, 2); }
                else if (v <= uint.MaxValue) { s.WriteByte(0xce); WriteBE(s, (ulong)v, 4); }
                else { s.WriteByte(0xcf); WriteBE(s, (ulong)v, 8); }
            }
            else
            {
                if (v >= -32) s.WriteByte((byte)(sbyte)v);
                else if (v >= sbyte.MinValue) { s.WriteByte(0xd0); s.WriteByte((byte)(sbyte)v); }
                else if (v >= short.MinValue) { s.WriteByte(0xd1); WriteBE(s, (ulong)v, 2); }
                else if (v >= int.MinValue) { s.WriteByte(0xd2); WriteBE(s, (ulong)v, 4); }
                else { s.WriteByte(0xd3); WriteBE(s, (ulong)v, 8); }
            }
        }

        public static void WriteDouble(Stream s, double v)
        {
            // float64 always, as the reference encoder does (§10: `cb` + 8 bytes big-endian).
            if (double.IsNaN(v) || double.IsInfinity(v))
                throw new MsgPackException("NaN and Infinity are not allowed on the wire (§2.3)");
            s.WriteByte(0xcb);
            WriteBE(s, (ulong)BitConverter.DoubleToInt64Bits(v), 8);
        }

        public static void WriteString(Stream s, string v)
        {
            byte[] bytes = Utf8.GetBytes(v);
            int n = bytes.Length;
            if (n < 32) s.WriteByte((byte)(0xa0 | n));
            else if (n <= byte.MaxValue) { s.WriteByte(0xd9); s.WriteByte((byte)n); }
            else if (n <= ushort.MaxValue) { s.WriteByte(0xda); WriteBE(s, (ulong)n, 2); }
            else { s.WriteByte(0xdb); WriteBE(s, (ulong)n, 4); }
            s.Write(bytes, 0, n);
        }

        static void WriteBin(Stream s, byte[] v)
        {
            int n = v.Length;
            if (n <= byte.MaxValue) { s.WriteByte(0xc4); s.WriteByte((byte)n); }
            else if (n <= ushort.MaxValue) { s.WriteByte(0xc5); WriteBE(s, (ulong)n, 2); }
            else { s.WriteByte(0xc6); WriteBE(s, (ulong)n, 4); }
            s.Write(v, 0, n);
        }

        static void WriteHeader(Stream s, int n, int fix, byte b16, byte b32, int fixLimit)
        {
            if (n < fixLimit) s.WriteByte((byte)(fix | n));
            else if (n <= ushort.MaxValue) { s.WriteByte(b16); WriteBE(s, (ulong)n, 2); }
            else { s.WriteByte(b32); WriteBE(s, (ulong)n, 4); }
        }

        static void WriteBE(Stream s, ulong v, int bytes)
        {
            for (int i = bytes - 1; i >= 0; i--) s.WriteByte((byte)(v >> (8 * i)));
        }

        // ---- reader ----

        sealed class Reader
        {
            const int MaxDepth = 64;  // server frames nest a few levels; this bounds recursion
            readonly byte[] data;
            readonly int end;
            public int Position;

            public Reader(byte[] data, int offset, int count)
            {
                if (offset < 0 || count < 0 || offset + count > data.Length)
                    throw new ArgumentOutOfRangeException("count");
                this.data = data;
                Position = offset;
                end = offset + count;
            }

            public object ReadValue(int depth)
            {
                if (depth > MaxDepth) throw new MsgPackException("nested too deeply");
                byte b = Byte();
                if (b <= 0x7f) return (long)b;
                if (b >= 0xe0) return (long)(sbyte)b;
                if ((b & 0xe0) == 0xa0) return Str(b & 0x1f);
                if ((b & 0xf0) == 0x90) return Array(b & 0x0f, depth);
                if ((b & 0xf0) == 0x80) return Map(b & 0x0f, depth);
                switch (b)
                {
                    case 0xc0: return null;
                    case 0xc2: return false;
                    case 0xc3: return true;
                    case 0xc4: return Bin((int)BE(1));
                    case 0xc5: return Bin((int)BE(2));
                    case 0xc6: return Bin(Len(BE(4)));
                    case 0xca: return (double)BitConverter.ToSingle(BitConverter.GetBytes((uint)BE(4)), 0);
                    case 0xcb: return BitConverter.Int64BitsToDouble((long)BE(8));
                    case 0xcc: return (long)BE(1);
                    case 0xcd: return (long)BE(2);
                    case 0xce: return (long)BE(4);
                    case 0xcf:
                        {
                            ulong u = BE(8);
                            if (u <= long.MaxValue) return (long)u;
                            return u;
                        }
                    case 0xd0: return (long)(sbyte)BE(1);
                    case 0xd1: return (long)(short)BE(2);
                    case 0xd2: return (long)(int)BE(4);
                    case 0xd3: return (long)BE(8);
                    case 0xd9: return Str((int)BE(1));
                    case 0xda: return Str((int)BE(2));
                    case 0xdb: return Str(Len(BE(4)));
                    case 0xdc: return Array((int)BE(2), depth);
                    case 0xdd: return Array(Len(BE(4)), depth);
                    case 0xde: return Map((int)BE(2), depth);
                    case 0xdf: return Map(Len(BE(4)), depth);
                }
                if (b == 0xc1) throw new MsgPackException("reserved byte 0xc1");
                throw new MsgPackException(string.Format("unsupported msgpack type 0x{0:x2} (ext or timestamp)", b));
            }

            byte Byte()
            {
                if (Position >= end) throw new MsgPackException("truncated msgpack");
                return data[Position++];
            }

            ulong BE(int n)
            {
                Need(n);
                ulong v = 0;
                for (int i = 0; i < n; i++) v = (v << 8) | data[Position++];
                return v;
            }

            int Len(ulong n)
            {
                if (n > (ulong)(end - Position)) throw new MsgPackException("truncated msgpack");
                return (int)n;
            }

            void Need(int n)
            {
                if (n < 0 || n > end - Position) throw new MsgPackException("truncated msgpack");
            }

            string Str(int n)
            {
                Need(n);
                string s;
                try { s = Utf8.GetString(data, Position, n); }
                catch (ArgumentException) { throw new MsgPackException("invalid UTF-8 in a str"); }
                Position += n;
                return s;
            }

            byte[] Bin(int n)
            {
                Need(n);
                var b = new byte[n];
                Buffer.BlockCopy(data, Position, b, 0, n);
                Position += n;
                return b;
            }

            List<object> Array(int n, int depth)
            {
                // Each element takes at least one byte: a bogus count fails before allocating.
                Need(n);
                var list = new List<object>(n);
                for (int i = 0; i < n; i++) list.Add(ReadValue(depth + 1));
                return list;
            }

            Dictionary<string, object> Map(int n, int depth)
            {
                Need(n * 2);
                var map = new Dictionary<string, object>(n);
                for (int i = 0; i < n; i++)
                {
                    var key = ReadValue(depth + 1) as string;
                    if (key == null) throw new MsgPackException("map keys must be strings (§2.3)");
                    map[key] = ReadValue(depth + 1);
                }
                return map;
            }
        }
    }

    /// <summary>A value that encodes itself as a msgpack map.</summary>
    public interface IWireMap
    {
        Dictionary<string, object> ToMap();
    }
}
