// The scenarios, one per behaviour of docs/protocol.md that a Unity client depends on.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;

namespace ImmersiVerse.Conformance
{
    static partial class Harness
    {
        const string Prompt = "a small village by a lake with pine trees";

        static List<KeyValuePair<string, Action>> Scenarios()
        {
            var s = new List<KeyValuePair<string, Action>>();
            Action<string, Action> add = (n, a) => s.Add(new KeyValuePair<string, Action>(n, a));
            add("codec_spec_hex_dumps", CodecSpecHexDumps);
            add("codec_round_trip", CodecRoundTrip);
            add("codec_rejects_invalid", CodecRejectsInvalid);
            add("header_vector_shapes", HeaderVectorShapes);
            add("spec_json_examples_through_the_client", SpecJsonExamplesThroughTheClient);
            add("auth_header_token", AuthHeader);
            add("auth_hello_frame", AuthHello);
            add("auth_bad_header_token_4500", BadHeaderToken);
            add("auth_bad_hello_token_4500", BadHelloToken);
            add("unsupported_version_4502", UnsupportedVersion);
            add("second_hello_already_authenticated", SecondHello);
            add("ping_pong", PingPong);
            add("generate_counts_add_up", GenerateCounts);
            add("generate_invalid_prompt_error", InvalidPrompt);
            add("terrain_from_the_header_carries_every_instance", TerrainCarriesInstances);
            add("a_throwing_handler_is_reported_and_harmless", ThrowingHandler);
            add("cancel_generation", CancelGeneration);
            add("cancel_unknown_request", CancelUnknown);
            add("join_snapshot_and_live_edits_in_order", JoinAndEdits);
            add("edit_outcomes_and_errors", EditOutcomes);
            add("presence_join_update_leave", Presence);
            add("presence_faster_than_the_limit_is_coalesced", PresenceCoalesced);
            add("join_while_generating_gets_the_whole_world", JoinWhileGenerating);
            add("world_deleted_is_lost", WorldDeleted);
            add("access_revoked_is_lost", AccessRevoked);
            add("resume_replays_exactly_the_missed_ops", ResumeReplay);
            add("auto_reconnect_with_backoff_resumes", AutoReconnect);
            add("telemetry_acks_and_duplicates", TelemetryAcks);
            add("telemetry_retried_after_reconnect", TelemetryRetry);
            add("bad_frame_error_without_rid", BadFrame);
            add("protocol_violation_4503", ProtocolViolation);
            add("token_refresh_in_place", TokenRefresh);
            add("token_revoked_4501_terminal", TokenRevoked);
            add("catalog_etag_cache", CatalogETag);
            add("events_on_the_captured_context", EventsOnCapturedContext);
            // Run only when named: they need a server with a short idle timeout (tests/unity).
            Action<string, Action> addLiveness = (n, a) => s.Add(new KeyValuePair<string, Action>("liveness:" + n, a));
            addLiveness("idle_close_4000_reconnects", IdleCloseReconnects);
            addLiveness("heartbeat_keeps_session_open", HeartbeatKeepsSessionOpen);
            addLiveness("token_expired_4003_reconnects_with_a_new_token", TokenExpiredReconnects);
            addLiveness("token_refreshed_before_it_expires", TokenRefreshedBeforeExpiry);
            // Needs the test to restart the server when the harness prints RESTART NOW.
            s.Add(new KeyValuePair<string, Action>("restart:survives_a_server_restart", SurvivesServerRestart));
            return s;
        }

        // ---- codec ----

        static void CodecSpecHexDumps()
        {
            // Every ```hex block of docs/protocol.md decodes to one map and re-encodes to the same bytes.
            var lines = File.ReadAllLines(specPath);
            int blocks = 0;
            for (int i = 0; i < lines.Length; i++)
            {
                if (!lines[i].StartsWith("```hex")) continue;
                string name = lines[i].Substring(6).Trim();
                var hex = new StringBuilder();
                for (i++; i < lines.Length && !lines[i].StartsWith("```"); i++) hex.Append(lines[i]).Append(' ');
                var bytes = hex.ToString().Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries).Select(h => Convert.ToByte(h, 16)).ToArray();
                var map = MsgPack.Decode(bytes) as Dictionary<string, object>;
                Ok(map != null, name + ": not a map");
                Eq(name, Wire.Str(map, "type"), "type of the " + name + " dump");
                Ok(MsgPack.Encode(map).SequenceEqual(bytes), name + ": re-encoding differs from the spec's bytes");
                if (name == "gen.chunk")
                {
                    var inst = Instance.ListFrom(map, "instances")[0];
                    Eq(1.5, inst.Position.X, "gen.chunk pos.x");
                    Eq(-2.0, inst.Position.Z, "gen.chunk pos.z");
                    Eq(1.0, inst.Rotation.W, "gen.chunk rot.w");
                }
                if (name == "error")
                {
                    var e = ErrorInfo.FromMap(map);
                    Eq(1012, e.Code, "error code");
                    Eq(7L, e.Rid.Value, "error rid");
                }
                blocks++;
            }
            Ok(blocks >= 3, "expected at least 3 hex dumps in the spec, found " + blocks);
        }

        static void CodecRoundTrip()
        {
            var values = new object[]
            {
                0L, 1L, 127L, 128L, 255L, 256L, 65535L, 65536L, 4294967295L, 4294967296L, long.MaxValue,
                -1L, -32L, -33L, -128L, -129L, -32768L, -32769L, -2147483648L, -2147483649L, long.MinValue,
                ulong.MaxValue, 0.0, 1.5, -2.25e300, true, false, null, "", "héllo ✓",
                new string('x', 31), new string('x', 32), new string('x', 255), new string('x', 256), new string('x', 70000),
            };
            foreach (var v in values)
            {
                object back = MsgPack.Decode(MsgPack.Encode(v));
                Ok(Equals(v, back), "round trip of " + Wire.Show(v).Substring(0, Math.Min(40, Wire.Show(v).Length)) + " gave " + Wire.Show(back));
            }
            var big = new List<object>();
            for (int i = 0; i < 70000; i++) big.Add((long)i);
            var nested = new Dictionary<string, object> { { "a", big }, { "m", new Dictionary<string, object> { { "k", new List<object> { 1.0, "x" } } } } };
            var decoded = (Dictionary<string, object>)MsgPack.Decode(MsgPack.Encode(nested));
            Eq(70000, ((List<object>)decoded["a"]).Count, "array32 length");
            Eq(69999L, ((List<object>)decoded["a"])[69999], "array32 last");
            Eq("x", ((List<object>)((Dictionary<string, object>)decoded["m"])["k"])[1], "nested value");
            // Known encodings from the msgpack spec.
            Ok(MsgPack.Encode(-33L).SequenceEqual(new byte[] { 0xd0, 0xdf }), "int8 encoding");
            Ok(MsgPack.Encode(1.5).SequenceEqual(new byte[] { 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0 }), "float64 encoding");
            Eq(2.5, (double)MsgPack.Decode(new byte[] { 0xca, 0x40, 0x20, 0, 0 }), "float32 decoding");
        }

        static void CodecRejectsInvalid()
        {
            var bad = new[]
            {
                new byte[] { 0xc1 }, new byte[] { 0x92, 0x01 }, new byte[] { 0x01, 0x02 }, new byte[] { 0xa2, 0xc3, 0x28 },
                new byte[] { 0x81, 0x01, 0x02 }, new byte[] { 0xd4, 0x01, 0x00 }, new byte[] { 0xdd, 0xff, 0xff, 0xff, 0xff },
            };
            foreach (var b in bad)
            {
                bool threw = false;
                try { MsgPack.Decode(b); } catch (MsgPackException) { threw = true; }
                Ok(threw, "decoding " + BitConverter.ToString(b) + " should fail");
            }
            bool nan = false;
            try { MsgPack.Encode(double.NaN); } catch (MsgPackException) { nan = true; }
            Ok(nan, "NaN must not encode (§2.3)");
        }

        static void HeaderVectorShapes()
        {
            // The header's vectors as maps (current server) and as arrays (the spec's example).
            Func<double, double, double, object> map = (x, y, z) => new Dictionary<string, object> { { "x", x }, { "y", y }, { "z", z } };
            Func<double, double, double, object> arr = (x, y, z) => new List<object> { x, y, z };
            var a = WorldHeader.FromMap(new Dictionary<string, object>
            {
                { "bounds", new Dictionary<string, object> { { "min", map(-40, -4, -40) }, { "max", map(40, 255, 40) } } },
                { "spawn_points", new List<object> { map(1, 2, 3) } },
            });
            var b = WorldHeader.FromMap(new Dictionary<string, object>
            {
                { "bounds", new List<object> { arr(-40, -4, -40), arr(40, 255, 40) } },
                { "spawn_points", new List<object> { arr(1, 2, 3) } },
            });
            var c = WorldHeader.FromMap(new Dictionary<string, object>
            {
                { "bounds", new Dictionary<string, object> { { "min", arr(-40, -4, -40) }, { "max", arr(40, 255, 40) } } },
                { "spawn_points", new List<object> { arr(1L, 2L, 3L) } },
            });
            foreach (var h in new[] { a, b, c })
            {
                Ok(h.HasBounds, "bounds parsed");
                Eq(-40.0, h.BoundsMin.X, "bounds.min.x");
                Eq(255.0, h.BoundsMax.Y, "bounds.max.y");
                Eq(1, h.SpawnPoints.Count, "spawn points");
                Eq(3.0, h.SpawnPoints[0].Z, "spawn z");
            }
        }

        // ---- connecting ----

        static void AuthHeader()
        {
            var c = Connected(NewUser("hdr"));
            Ok(!string.IsNullOrEmpty(c.Welcome.SessionId), "welcome.session_id");
            Eq(1, c.Welcome.Protocol, "welcome.protocol");
            Ok(c.Welcome.Limit("chunk_size", 0) > 0, "welcome.limits.chunk_size");
            Ok(c.Welcome.HeartbeatSeconds > 0, "welcome.heartbeat_s");
        }

        static void AuthHello()
        {
            string user = NewUser("hello");
            var c = Connected(user, hello: true);
            Eq(user, c.Welcome.UserId, "welcome.user_id");
            Eq(1, c.Welcome.Protocol, "welcome.protocol");
        }

        static void ExpectTerminal(ImmersiVerseClient c, int code, string what)
        {
            var e = Fails(c.ConnectAsync(), what);
            Ok(e.Close != null, what + ": expected a close, got " + e.Message);
            Eq(code, e.Close.Code, what + " close code");
            Ok(!e.Close.Reconnect && !e.Close.WillReconnect, what + ": a 45xx close is terminal");
            Eq(ClientState.Closed, c.State, what + ": client state");
        }

        static void BadHeaderToken()
        {
            ExpectTerminal(NewClient("not.a.jwt"), 4500, "bad header token");
        }

        static void BadHelloToken()
        {
            ExpectTerminal(NewClient("not.a.jwt", hello: true), 4500, "bad hello token");
        }

        static void UnsupportedVersion()
        {
            var c = NewClient(Login(Rest(), NewUser("ver")).Token, hello: true);
            c.Options.ProtocolVersion = 9;
            ExpectTerminal(c, 4502, "hello v=9");
            Ok(c.LastClose.FromBye, "a bye preceded the close");
            Ok(c.LastClose.SupportedVersions.Contains(1), "bye.supported_versions lists 1");
        }

        static void SecondHello()
        {
            var c = Connected(NewUser("hello2"), hello: true);
            ErrorInfo err = null;
            c.Error += e => err = e;
            int welcomes = 0;
            c.Connected += w => welcomes++;
            c.Send(c.HelloFrame(c.Options.Token));
            var pong = c.PingAsync();
            Wait(pong, "ping after the second hello");
            Ok(err != null, "a second hello is answered with an error (got " + welcomes + " welcome(s))");
            Eq(Codes.AlreadyAuthenticated, err.Code, "second hello error code");
        }

        static void PingPong()
        {
            var c = Connected(NewUser("ping"));
            double t = Wait(c.PingAsync(), "pong");
            Ok(t > 1.7e9, "pong.server_time is unix seconds: " + t);
        }

        // ---- generation ----

        public static GenDone GenerateWorld(ImmersiVerseClient c, out Generation gen, out List<Instance> instances, int max = 300)
        {
            var list = new List<Instance>();
            gen = c.Generate(Prompt, new GenerateOptions { Seed = 7, MaxInstances = max });
            gen.Chunk += ch => list.AddRange(ch.Instances);
            instances = list;
            return Wait(gen.Completion, "generation");
        }

        static void GenerateCounts()
        {
            var c = Connected(NewUser("gen"));
            GenStart start = null;
            var indices = new List<int>();
            int sum = 0;
            var g = c.Generate(Prompt, new GenerateOptions { Seed = 11, MaxInstances = 400 });
            g.Started += s => start = s;
            g.Chunk += ch => { indices.Add(ch.Index); sum += ch.Instances.Count; };
            var done = Wait(g.Completion, "generation");
            Ok(start != null && start.Own, "gen.start seen as this session's");
            Eq("complete", done.Status, "gen.done.status");
            Eq(done.WorldId, start.WorldId, "world id of start and done");
            Eq(done.Instances, (long)sum, "instances in chunks vs gen.done.instances");
            Eq(done.Chunks, (long)indices.Count, "chunks received vs gen.done.chunks");
            for (int i = 0; i < indices.Count; i++) Eq(i, indices[i], "chunk index");
            Ok(sum > 0 && sum <= 400, "instance count " + sum);
            long chunkSize = c.Welcome.Limit("chunk_size", 0);
            Ok(indices.Count >= (sum + chunkSize - 1) / chunkSize, "chunks hold at most chunk_size");
            var h = start.Header;
            Ok(!string.IsNullOrEmpty(h.Title), "header.title");
            Ok(h.HasBounds && h.BoundsMax.X > h.BoundsMin.X, "header.bounds");
            Ok(h.SpawnPoints.Count > 0, "header.spawn_points");
            if (h.InstanceCount >= 0) Eq(h.InstanceCount, done.Instances, "header.instance_count");
            Ok(h.Terrain != null && h.Terrain.Size > 0, "header.terrain");
            Ok(done.Timings.ContainsKey("total_ms"), "gen.done.timings.total_ms");
        }

        static void TerrainCarriesInstances()
        {
            // The heightmap and masks decode to the ground the generator placed instances on
            // (docs/protocol.md §6.5: ground things within 0.01 m of the ground height).
            var rest = Rest();
            var c = NewClient(Login(rest, NewUser("terrain")).Token);
            Wait(c.ConnectAsync(), "connect");
            var surface = new Dictionary<string, string>();
            for (int offset = 0; offset < 100000; offset += 100)
            {
                var page = Blocking(rest.GetCatalogAsync(limit: 100, offset: offset), "catalog page");
                foreach (var p in page.Prefabs)
                    surface[Wire.Str(p, "id")] = Wire.Str(Wire.Map(Wire.Map(p, "properties"), "placement"), "surface", "ground");
                if (page.Prefabs.Count == 0 || offset + 100 >= page.TotalCount) break;
            }
            var instances = new List<Instance>();
            var g = c.Generate("a fishing village by a lake with pine trees and a road", new GenerateOptions { Seed = 4, MaxInstances = 800 });
            g.Chunk += ch => instances.AddRange(ch.Instances);
            Wait(g.Completion, "generation");
            var t = g.Header.Terrain;
            Ok(t != null && t.Heights != null, "the header carries heightmap samples");
            Eq(t.Resolution * t.Resolution, t.Heights.Length, "heightmap samples");
            Ok(t.WaterMask != null && t.PathMask != null, "the header carries water and path masks");
            Ok(t.WaterMask.Any(w => w), "the lake is in the water mask");
            int ground = 0;
            foreach (var i in instances)
            {
                string kind;
                if (!surface.TryGetValue(i.PrefabId, out kind)) throw new Check("prefab " + i.PrefabId + " is not in the catalog");
                if (kind == "ground")
                {
                    double expected = t.GroundHeight(i.Position.X, i.Position.Z);
                    Ok(Math.Abs(i.Position.Y - expected) <= 0.01, i.Id + " (" + i.PrefabId + ") stands at y " + i.Position.Y + ", the ground is at " + expected);
                    ground++;
                }
                else if (kind == "water")
                    Ok(Math.Abs(i.Position.Y - t.WaterLevel) <= 0.01, i.Id + " floats at the water level");
            }
            Ok(ground > instances.Count / 2, "most instances stand on the ground: " + ground + " of " + instances.Count);
        }

        static void ThrowingHandler()
        {
            var c = Connected(NewUser("throws"));
            var reported = new List<Exception>();
            var previous = Pump.OnHandlerError;
            Pump.OnHandlerError = e => reported.Add(e);
            try
            {
                // Raised first for every frame: if it could stop processing, nothing would arrive.
                c.FrameReceived += f => { throw new InvalidOperationException("a bug in game code"); };
                var g = c.Generate(Prompt, new GenerateOptions { Seed = 2, MaxInstances = 300 });
                int chunks = 0;
                g.Chunk += ch => chunks++;
                var done = Wait(g.Completion, "generation despite a throwing handler");
                Eq(done.Chunks, (long)chunks, "every chunk still reached the generation");
                Eq((int)done.Chunks + 2, reported.Count, "each exception reported once (start, chunks, done)");
                Ok(reported.All(e => e is InvalidOperationException), "the handler's exceptions");
                Wait(c.PingAsync(), "the client still works");
            }
            finally { Pump.OnHandlerError = previous; }
        }

        static void InvalidPrompt()
        {
            var c = Connected(NewUser("badprompt"));
            var g = c.Generate(" ");
            var e = Fails(g.Completion, "blank prompt");
            Eq(Codes.InvalidValue, e.Error.Code, "error code");
            Eq(g.Rid, e.Error.Rid ?? -1, "error.rid echoes the prompt's rid");
            Ok(g.Failure != null, "Failed event");
        }

        static void CancelGeneration()
        {
            // The cancel goes out right behind the prompt, so the server always gets it while the
            // generation runs, however fast it streams (§7.2: gen.done cancelled, then cancelled).
            var c = Connected(NewUser("cancel"));
            var g = c.Generate("a huge dense city with skyscrapers and parks and roads", new GenerateOptions { Seed = 3, MaxInstances = 20000 });
            GenDone cancelled = null;
            GenStart started = null;
            g.Cancelled += d => cancelled = d;
            g.Started += s => started = s;
            var cancel = g.CancelAsync();
            var done = Wait(g.Completion, "cancelled generation");
            Wait(cancel, "the cancelled reply");
            Ok(cancel.IsCompleted && g.IsFinished, "both final frames");
            Eq("cancelled", done.Status, "gen.done.status");
            Ok(done.Instances < 20000, "stopped early: " + done.Instances + " instances");
            Ok(cancelled != null && started != null, "Started and Cancelled events");
            Eq((long)g.InstancesReceived, done.Instances, "instances sent before the cancel");
            Eq((long)g.ChunksReceived, done.Chunks, "chunks sent before the cancel");
        }

        static void CancelUnknown()
        {
            var c = Connected(NewUser("cancel2"));
            var g = c.Generate(Prompt, new GenerateOptions { MaxInstances = 50 });
            Wait(g.Completion, "generation");
            var e = Fails(g.CancelAsync(), "cancel after done");
            Eq(Codes.UnknownRequest, e.Error.Code, "error code");
        }
    }
}
