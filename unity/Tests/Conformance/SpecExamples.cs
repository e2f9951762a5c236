// The spec's JSON examples through the client: every server example of docs/protocol.md is
// delivered by a scripted transport (no socket) and must come out as the right typed event.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace ImmersiVerse.Conformance
{
    /// <summary>A transport without a socket: the test pushes server frames and records sends.</summary>
    sealed class ScriptedTransport : ITransport
    {
        public readonly List<Dictionary<string, object>> Sent = new List<Dictionary<string, object>>();
        public bool SupportsHeaders { get { return true; } }
        public event Action<byte[]> MessageReceived;
        public event Action<int, string> Closed;

        public Task ConnectAsync(Uri uri, IDictionary<string, string> headers, CancellationToken cancel) { return Task.FromResult(0); }

        public Task SendAsync(byte[] message)
        {
            lock (Sent) Sent.Add((Dictionary<string, object>)MsgPack.Decode(message));
            return Task.FromResult(0);
        }

        public Task CloseAsync(int code, string reason) { ServerClose(code); return Task.FromResult(0); }
        public void Abort() { ServerClose(Codes.AbnormalClosure); }

        public void Push(Dictionary<string, object> frame) { MessageReceived(MsgPack.Encode(frame)); }
        public void ServerClose(int code) { var c = Closed; if (c != null) c(code, ""); }
    }

    static partial class Harness
    {
        static List<Dictionary<string, object>> JsonExamples(string direction)
        {
            var result = new List<Dictionary<string, object>>();
            var lines = File.ReadAllLines(specPath);
            for (int i = 0; i < lines.Length; i++)
            {
                if (lines[i].Trim() != "```json " + direction) continue;
                var text = new List<string>();
                for (i++; i < lines.Length && !lines[i].StartsWith("```"); i++) text.Add(lines[i]);
                result.Add((Dictionary<string, object>)Json.Parse(string.Join("\n", text.ToArray())));
            }
            return result;
        }

        static ImmersiVerseClient ScriptedClient(out ScriptedTransport transport)
        {
            var t = new ScriptedTransport();
            var c = new ImmersiVerseClient(new ClientOptions
            {
                Url = "ws://example.invalid/ws", Token = "t", TransportFactory = () => t, AutoReconnect = false, TickMilliseconds = 0,
            }, Pump);
            Clients.Add(c);
            transport = t;
            return c;
        }

        static void SpecJsonExamplesThroughTheClient()
        {
            var examples = JsonExamples("s2c");
            Ok(examples.Count >= 15, "server examples in the spec: " + examples.Count);
            var welcome = examples.First(e => Wire.Str(e, "type") == "welcome");
            ScriptedTransport t;
            var c = ScriptedClient(out t);
            var events = new List<object>();
            c.GenerationStarted += e => events.Add(e);
            c.ChunkReceived += e => events.Add(e);
            c.GenerationDone += e => events.Add(e);
            c.WorldJoined += e => events.Add(e);
            c.SnapshotReceived += e => events.Add(e);
            c.OpReceived += e => events.Add(e);
            c.PresenceReceived += e => events.Add(e);
            c.Error += e => events.Add(e);
            var connect = c.ConnectAsync();
            Pump.Pump();
            t.Push(welcome);
            var w = Wait(connect, "welcome from the spec's example");
            Eq(Wire.Str(welcome, "session_id"), w.SessionId, "welcome.session_id");
            Ok(w.Limit("chunk_size", 0) > 0, "welcome.limits");
            foreach (var ex in examples)
            {
                string type = Wire.Str(ex, "type");
                if (type == null)
                {
                    var i = Instance.FromMap(ex);   // the Instance example of §6.1
                    Ok(i.Id != null && i.PrefabId != null && i.Scale.X > 0, "instance example");
                    continue;
                }
                if (type == "welcome") continue;
                if (type == "bye") { ByeExample(ex); continue; }
                events.Clear();
                t.Push(ex);
                Pump.Pump();
                Until(() => true, "delivery");
                CheckExample(type, ex, events);
            }
            // Client examples: the SDK's edit ops write exactly the spec's ops.
            int ops = 0;
            foreach (var ex in JsonExamples("c2s").Where(e => Wire.Str(e, "type") == "edit"))
                foreach (var op in Wire.List(ex, "ops"))
                {
                    Eq(Canon(op), Canon(EditOp.FromMap((Dictionary<string, object>)op).ToMap()), "edit op round trip");
                    ops++;
                }
            Ok(ops > 0, "the spec has edit examples");
            Console.WriteLine("  " + examples.Count + " server examples and " + ops + " edit ops checked");
        }

        /// <summary>A value rendered with map keys sorted: equal values, whatever the key order.</summary>
        static string Canon(object v)
        {
            var map = v as IDictionary<string, object>;
            if (map != null)
                return "{" + string.Join(", ", map.Keys.OrderBy(k => k, StringComparer.Ordinal).Select(k => k + ": " + Canon(map[k])).ToArray()) + "}";
            var list = v as List<object>;
            if (list != null) return "[" + string.Join(", ", list.Select(Canon).ToArray()) + "]";
            return Wire.Show(v);
        }

        static T Only<T>(List<object> events, string type) where T : class
        {
            var found = events.OfType<T>().ToList();
            if (found.Count != 1) throw new Check(type + " example: expected one " + typeof(T).Name + " event, got " + events.Count + " events");
            return found[0];
        }

        static void CheckExample(string type, Dictionary<string, object> ex, List<object> events)
        {
            switch (type)
            {
                case "gen.start":
                    var h = Only<GenStart>(events, type).Header;
                    Ok(!string.IsNullOrEmpty(h.Title) && h.HasBounds && h.SpawnPoints.Count > 0 && h.Terrain != null && h.Environment != null,
                       "gen.start header: title, bounds, spawn points, terrain, environment");
                    Eq(Wire.Long(ex["header"] as Dictionary<string, object>, "instance_count", -1), h.InstanceCount, "instance_count");
                    break;
                case "gen.chunk":
                    var ch = Only<GenChunk>(events, type);
                    Eq(Wire.List(ex, "instances").Count, ch.Instances.Count, "chunk instances");
                    break;
                case "gen.done":
                    var d = Only<GenDone>(events, type);
                    Eq(Wire.Str(ex, "status"), d.Status, "status");
                    Eq(Wire.Long(ex, "instances"), d.Instances, "instances");
                    break;
                case "joined":
                    Eq(Wire.List(ex, "members").Count, Only<Joined>(events, type).Members.Count, "members");
                    break;
                case "snapshot":
                    var s = Only<Snapshot>(events, type);
                    Ok(s.Last && s.Instances.Count == Wire.List(ex, "instances").Count, "snapshot instances");
                    if (Wire.Map(ex, "header") != null) Eq(Wire.Str(Wire.Map(ex, "header"), "status"), s.Header.Status, "snapshot header status");
                    break;
                case "op":
                    var o = Only<OpFrame>(events, type);
                    Eq(Wire.List(ex, "ops").Count, o.Ops.Count, "ops");
                    Ok(o.Ops[0].Position.HasValue, "op pos");
                    break;
                case "presence":
                    var pe = Only<PresenceEvent>(events, type);
                    Eq(Wire.Str(Wire.Map(ex, "member"), "user_id"), pe.Member.UserId, "presence member");
                    Eq(Wire.Has(ex, "members") ? Wire.List(ex, "members").Count : 1, pe.Members.Count, "presence members");
                    break;
                case "error":
                    Eq((int)Wire.Long(ex, "code"), Only<ErrorInfo>(events, type).Code, "error code");
                    break;
                case "edit.ack":
                    var a = EditAck.FromMap(ex);
                    Ok(a.Results.Count == Wire.List(ex, "results").Count && a.Results.All(r => r.Outcome != null && r.Id != null), "edit.ack results");
                    break;
                case "telemetry.ack":
                    Eq(Wire.List(ex, "ids").Count, TelemetryAck.FromMap(ex).Ids.Count, "telemetry.ack ids");
                    break;
                case "auth.ok":
                    Ok(AuthOk.FromMap(ex).ExpiresAt > 0, "auth.ok expires_at");
                    break;
                case "pong":
                case "cancelled":
                case "left":
                    Ok(events.Count == 0, type + " without a request raises nothing");
                    break;
                default:
                    throw new Check("the spec has a server message the SDK does not handle: " + type);
            }
        }

        static void ByeExample(Dictionary<string, object> bye)
        {
            ScriptedTransport t;
            var c = ScriptedClient(out t);
            var connect = c.ConnectAsync();
            Pump.Pump();
            t.Push(new Dictionary<string, object> { { "type", "welcome" }, { "session_id", "s" }, { "protocol", 1L } });
            Wait(connect, "welcome");
            CloseInfo closed = null;
            c.Disconnected += i => closed = i;
            t.Push(bye);
            t.ServerClose(Codes.AbnormalClosure);   // even if the close code were lost, bye carries it
            Until(() => closed != null, "the close");
            int code = (int)Wire.Long(bye, "code");
            Eq(code, closed.Code, "close code from bye");
            Eq(Wire.Bool(bye, "reconnect"), closed.Reconnect, "reconnect rule for " + code);
            Eq(Codes.CloseMayReconnect(code), closed.Reconnect, "range rule for " + code);
        }
    }
}
