// Scenarios for shared worlds, telemetry, errors and close codes, tokens and the catalog.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;

namespace ImmersiVerse.Conformance
{
    static partial class Harness
    {
        sealed class Room
        {
            public ImmersiVerseClient Owner, Guest;
            public RestClient OwnerRest;
            public string WorldId, GuestUser, GuestPublicId;
            public List<Instance> Instances;
            public List<OpFrame> GuestOps = new List<OpFrame>();
            public List<Snapshot> GuestSnapshots = new List<Snapshot>();
            public List<Joined> GuestJoins = new List<Joined>();
        }

        /// <summary>Owner generates a world and shares it with a guest (editor), who joins it.</summary>
        static Room OpenRoom(bool guestAutoReconnect = true)
        {
            var r = new Room { OwnerRest = Rest() };
            var owner = Login(r.OwnerRest, NewUser("owner"));
            r.Owner = NewClient(owner.Token);
            Wait(r.Owner.ConnectAsync(), "owner connect");
            Generation gen;
            var done = GenerateWorld(r.Owner, out gen, out r.Instances, 200);
            r.WorldId = done.WorldId;
            r.GuestUser = NewUser("guest");
            var guestLogin = Login(Rest(), r.GuestUser);
            var guestToken = guestLogin.Token;
            r.GuestPublicId = guestLogin.PublicId;  // what others see of the guest (docs/protocol.md §6.2)
            Blocking(r.OwnerRest.ShareWorldAsync(r.WorldId, r.GuestUser, "editor").ContinueWith(t => { t.Wait(); return true; }), "share");
            r.Guest = NewClient(guestToken, autoReconnect: guestAutoReconnect);
            r.Guest.OpReceived += o => r.GuestOps.Add(o);
            r.Guest.SnapshotReceived += s => r.GuestSnapshots.Add(s);
            r.Guest.WorldJoined += j => r.GuestJoins.Add(j);
            Wait(r.Guest.ConnectAsync(), "guest connect");
            var joined = Wait(r.Guest.JoinAsync(r.WorldId), "guest join");
            Eq("snapshot", joined.Mode, "first join mode");
            Eq("editor", joined.Role, "guest role");
            Until(() => r.GuestSnapshots.Any(s => s.Last), "the last snapshot frame");
            return r;
        }

        static EditAck Edit(ImmersiVerseClient c, string worldId, params EditOp[] ops)
        {
            return Wait(c.EditAsync(worldId, ops), "edit");
        }

        static void JoinAndEdits()
        {
            var r = OpenRoom();
            int snapshotCount = r.GuestSnapshots.Sum(s => s.Instances.Count);
            Eq(r.Instances.Count, snapshotCount, "snapshot instances vs generated instances");
            var ids = new HashSet<string>(r.GuestSnapshots.SelectMany(s => s.Instances).Select(i => i.Id));
            Ok(r.Instances.All(i => ids.Contains(i.Id)), "the snapshot holds every generated instance");
            Ok(r.GuestSnapshots[0].Header != null, "the first snapshot frame carries the header");
            var first = r.Instances[0];
            var acks = new List<EditAck>();
            acks.Add(Edit(r.Owner, r.WorldId, EditOp.Add(first.PrefabId, first.Position)));
            string added = acks[0].Results[0].Id;
            Ok(!string.IsNullOrEmpty(added), "the server assigned an id to the add");
            acks.Add(Edit(r.Owner, r.WorldId, EditOp.Move(added, new Vec3(first.Position.X + 0.5, first.Position.Y, first.Position.Z))));
            acks.Add(Edit(r.Owner, r.WorldId, EditOp.Set(added, new Dictionary<string, object> { { "color", "red" } })));
            acks.Add(Edit(r.Owner, r.WorldId, EditOp.Remove(added)));
            foreach (var a in acks) Eq("applied", a.Results[0].Outcome, "outcome of op " + a.Seq);
            for (int i = 1; i < acks.Count; i++) Eq(acks[i - 1].Seq + 1, acks[i].Seq, "acks advance seq by one");
            Until(() => r.GuestOps.Count >= acks.Count, "the guest sees every op");
            Ok(r.GuestOps.Select(o => o.Seq).SequenceEqual(acks.Select(a => a.Seq)), "guest ops in seq order: "
               + string.Join(",", r.GuestOps.Select(o => o.Seq.ToString()).ToArray()));
            Eq("add", r.GuestOps[0].Ops[0].Op, "first op");
            Eq(added, r.GuestOps[0].Ops[0].Id, "op add id");
            Ok(r.GuestOps[0].Ops[0].Rotation.HasValue, "op add carries rot");
            Eq("red", r.GuestOps[2].Ops[0].Props["color"], "set props");
            Eq(acks.Last().Seq, r.Guest.LastSeq(r.WorldId), "guest LastSeq");
            // The guest edits too; the owner sees it.
            var ownerOps = new List<OpFrame>();
            r.Owner.OpReceived += o => ownerOps.Add(o);
            var g = Edit(r.Guest, r.WorldId, EditOp.Add(first.PrefabId, first.Position));
            Until(() => ownerOps.Count == 1, "the owner sees the guest's op");
            Eq(g.Seq, ownerOps[0].Seq, "owner op seq");
            Eq(r.GuestPublicId, ownerOps[0].Author, "op author");
        }

        static void EditOutcomes()
        {
            var r = OpenRoom();
            var inst = r.Instances[1];
            var removed = Edit(r.Owner, r.WorldId, EditOp.Remove(inst.Id));
            Eq("applied", removed.Results[0].Outcome, "remove");
            var again = Edit(r.Owner, r.WorldId, EditOp.Remove(inst.Id));
            Ok(again.Results[0].Outcome == "noop" || again.Results[0].Outcome == "superseded", "repeated remove: " + again.Results[0].Outcome);
            Eq(removed.Seq, again.Seq, "a batch that changed nothing does not advance seq");
            var other = r.Instances[2];
            var same = Edit(r.Owner, r.WorldId, EditOp.Move(other.Id, other.Position));
            Eq("noop", same.Results[0].Outcome, "a move to the current position");
            Eq(removed.Seq, same.Seq, "a noop does not advance seq");
            var e = Fails(r.Owner.EditAsync(r.WorldId, new[] { EditOp.Add("no_such_prefab_xyz", inst.Position) }), "unknown prefab");
            Eq(1110, e.Error.Code, "unknown_prefab");
            e = Fails(r.Owner.EditAsync(r.WorldId, new[] { EditOp.Add(inst.PrefabId, new Vec3(1e6, 0, 1e6)) }), "out of bounds");
            Eq(1111, e.Error.Code, "out_of_bounds");
            var stranger = Connected(NewUser("stranger"));
            e = Fails(stranger.EditAsync(r.WorldId, new[] { EditOp.Remove(inst.Id) }), "edit without join");
            Eq(Codes.NotJoined, e.Error.Code, "not_joined");
            e = Fails(stranger.JoinAsync(r.WorldId), "join a private world");
            Ok(e.Error.Code == Codes.NotFound || e.Error.Code == Codes.Forbidden, "join refused: " + e.Error);
            e = Fails(r.Owner.EditAsync(r.WorldId, new[] { EditOp.Move(inst.Id, new Vec3(double.MaxValue, 0, 0)) }), "bad value");
            Ok(e.Error.Code >= 1000 && e.Error.Code < 1200, "invalid move refused: " + e.Error);
        }

        static void Presence()
        {
            var r = OpenRoom();
            var seen = new List<PresenceEvent>();
            r.Owner.PresenceReceived += p => seen.Add(p);
            r.Guest.SendPresence(r.WorldId, new Vec3(1, 0.5, 2), new[] { r.Instances[0].Id });
            Until(() => seen.Any(p => p.Event == "update"), "a presence update");
            var u = seen.First(p => p.Event == "update");
            Eq(r.GuestPublicId, u.Member.UserId, "presence member");
            Ok(u.Cursor.HasValue && u.Cursor.Value.Z == 2, "presence cursor");
            Eq(r.Instances[0].Id, u.Selection[0], "presence selection");
            Wait(r.Guest.LeaveAsync(r.WorldId), "leave");
            Until(() => seen.Any(p => p.Event == "leave"), "a presence leave");
            Eq(r.Guest.SessionId, seen.First(p => p.Event == "leave").Member.SessionId, "leave member session");
        }

        static void PresenceCoalesced()
        {
            // 40 cursor updates at once, far beyond presence_per_s: the server would drop most;
            // the client paces them and the last position arrives.
            var r = OpenRoom();
            var xs = new List<double>();
            r.Owner.PresenceReceived += p => { if (p.Event == "update" && p.Cursor.HasValue) xs.Add(p.Cursor.Value.X); };
            for (int i = 0; i < 40; i++) Ok(r.Guest.SendPresence(r.WorldId, new Vec3(i, 0, 0)), "presence sent");
            Until(() => xs.Count > 0 && xs[xs.Count - 1] == 39, "the last cursor position");
            Ok(xs.Count < 40, "updates were coalesced: " + xs.Count);
            for (int i = 1; i < xs.Count; i++) Ok(xs[i] > xs[i - 1], "updates arrive in order");
        }

        static void JoinWhileGenerating()
        {
            // A world joined while it streams: a snapshot of what is stored, then the remaining
            // gen.chunk frames and gen.done (§7.4); together exactly the whole world, once each.
            var ownerRest = Rest();
            var owner = NewClient(Login(ownerRest, NewUser("owner")).Token);
            Wait(owner.ConnectAsync(), "owner connect");
            string guestUser = NewUser("guest");
            var guest = NewClient(Login(Rest(), guestUser).Token);
            Wait(guest.ConnectAsync(), "guest connect");
            var ids = new List<string>();
            string status = null;
            GenDone guestDone = null;
            guest.SnapshotReceived += s => { ids.AddRange(s.Instances.Select(i => i.Id)); if (s.Header != null) status = s.Header.Status; };
            guest.ChunkReceived += ch => ids.AddRange(ch.Instances.Select(i => i.Id));
            guest.GenerationDone += d => guestDone = d;
            var gen = owner.Generate("a huge dense city with skyscrapers, parks and roads", new GenerateOptions { Seed = 9, MaxInstances = 20000 });
            Task<Joined> join = null;
            gen.Started += s =>
            {
                // Shared as soon as the world exists, then joined while it is still streaming.
                ownerRest.ShareWorldAsync(s.WorldId, guestUser, "viewer").Then(t => Pump.Post(() => join = guest.JoinAsync(s.WorldId)));
            };
            var done = Wait(gen.Completion, "generation");
            Until(() => join != null && join.IsCompleted, "the join");
            var joined = Wait(join, "the join");
            Until(() => status != null && ids.Count >= done.Instances, "the guest's copy of the world");
            Ok(status == "generating" || status == "complete", "snapshot header status: " + status);
            Console.WriteLine("  joined a world whose snapshot status was " + status + " (" + ids.Count + " instances)");
            if (status == "generating")
            {
                Until(() => guestDone != null, "gen.done for the guest");
                Eq(done.Instances, guestDone.Instances, "gen.done.instances seen by the guest");
            }
            Eq((int)done.Instances, ids.Count, "instances received by the guest (" + status + ")");
            Eq(ids.Count, ids.Distinct().Count(), "no instance twice");
            Eq("viewer", joined.Role, "guest role");
        }

        static void WorldDeleted()
        {
            var r = OpenRoom();
            var lost = new List<KeyValuePair<string, ErrorInfo>>();
            r.Guest.WorldLost += (id, e) => lost.Add(new KeyValuePair<string, ErrorInfo>(id, e));
            Blocking(r.OwnerRest.DeleteWorldAsync(r.WorldId).ContinueWith(t => { t.Wait(); return true; }), "delete");
            Until(() => lost.Count == 1, "the guest to lose the world");
            Eq(r.WorldId, lost[0].Key, "lost world");
            Eq(Codes.NotFound, lost[0].Value.Code, "error code");
            Ok(!r.Guest.JoinedWorlds.Contains(r.WorldId), "the guest no longer tracks the world");
            var refused = Fails(r.Guest.JoinAsync(r.WorldId), "join a deleted world");
            Eq(Codes.NotFound, refused.Error.Code, "join after delete");
        }

        static void AccessRevoked()
        {
            var r = OpenRoom();
            var lost = new List<ErrorInfo>();
            r.Guest.WorldLost += (id, e) => lost.Add(e);
            Blocking(r.OwnerRest.ShareWorldAsync(r.WorldId, r.GuestUser, "none").ContinueWith(t => { t.Wait(); return true; }), "unshare");
            Until(() => lost.Count == 1, "the guest to lose access");
            Eq(Codes.Forbidden, lost[0].Code, "error code");
            var refused = Fails(r.Guest.EditAsync(r.WorldId, new[] { EditOp.Remove(r.Instances[0].Id) }), "edit after losing access");
            Eq(Codes.NotJoined, refused.Error.Code, "edit refused");
            Edit(r.Owner, r.WorldId, EditOp.Remove(r.Instances[0].Id));
        }

        static void ResumeReplay()
        {
            var r = OpenRoom(guestAutoReconnect: false);
            var inst = r.Instances[0];
            long before = r.Guest.LastSeq(r.WorldId);
            r.Guest.DropConnection();
            WaitClosed(r.Guest, "the guest's drop");
            var missed = new List<long>();
            for (int i = 0; i < 3; i++)
                missed.Add(Edit(r.Owner, r.WorldId, EditOp.Move(inst.Id, new Vec3(inst.Position.X + 0.1 * (i + 1), inst.Position.Y, inst.Position.Z))).Seq);
            r.GuestOps.Clear();
            int joinsBefore = r.GuestJoins.Count;
            Wait(r.Guest.ReconnectAsync(), "guest reconnect");
            Until(() => r.GuestJoins.Count > joinsBefore, "the resume join");
            var j = r.GuestJoins.Last();
            Eq("replay", j.Mode, "resume join mode");
            Eq(missed.Last(), j.Seq, "joined.seq");
            Until(() => r.GuestOps.Count >= 3, "the replayed ops");
            Ok(r.GuestOps.Select(o => o.Seq).SequenceEqual(missed), "replayed exactly the missed ops " + string.Join(",", missed.Select(x => x.ToString()).ToArray())
               + " after " + before + ", got " + string.Join(",", r.GuestOps.Select(o => o.Seq.ToString()).ToArray()));
            Ok(r.GuestOps.All(o => o.Replayed), "replayed ops are marked");
            var live = Edit(r.Owner, r.WorldId, EditOp.Move(inst.Id, inst.Position));
            Until(() => r.GuestOps.Count >= 4, "a live op after the replay");
            Eq(live.Seq, r.GuestOps[3].Seq, "live op seq");
            Ok(!r.GuestOps[3].Replayed, "a live op is not marked replayed");
            Eq(4, r.GuestOps.Count, "no duplicates");
        }

        static void AutoReconnect()
        {
            var r = OpenRoom(guestAutoReconnect: true);
            var closes = new List<CloseInfo>();
            int welcomes = 0;
            r.Guest.Disconnected += c => closes.Add(c);
            r.Guest.Connected += w => welcomes++;
            int joinsBefore = r.GuestJoins.Count;
            r.Guest.DropConnection();
            Until(() => welcomes == 1, "the automatic reconnect");
            Eq(1, closes.Count, "one disconnect");
            Ok(closes[0].WillReconnect && closes[0].Code >= 1001 && closes[0].Code < 4500, "a dropped socket is reconnectable: " + closes[0]);
            Until(() => r.GuestJoins.Count > joinsBefore, "the resume join");
            Eq("replay", r.GuestJoins.Last().Mode, "resume mode");
            r.GuestOps.Clear();
            var inst = r.Instances[0];
            var a = Edit(r.Owner, r.WorldId, EditOp.Move(inst.Id, new Vec3(inst.Position.X, inst.Position.Y, inst.Position.Z + 0.25)));
            Until(() => r.GuestOps.Count == 1, "an op after the reconnect");
            Eq(a.Seq, r.GuestOps[0].Seq, "op seq");
        }

        static void SurvivesServerRestart()
        {
            // The server drains (bye + 1001), is down for a while (refused connects, 1006), and
            // comes back on the same store: both clients reconnect with backoff and resume, and
            // edits after the restart continue the same seq.
            var r = OpenRoom();
            foreach (var c in new[] { r.Owner, r.Guest }) c.Options.Backoff = new Backoff { InitialSeconds = 0.05, MaxSeconds = 0.5 };
            var inst = r.Instances[0];
            var before = Edit(r.Owner, r.WorldId, EditOp.Move(inst.Id, new Vec3(inst.Position.X + 1, inst.Position.Y, inst.Position.Z)));
            Until(() => r.Guest.LastSeq(r.WorldId) == before.Seq, "the guest to apply the edit");
            var guestCloses = new List<CloseInfo>();
            int ownerWelcomes = 0, guestWelcomes = 0, joinsBefore = r.GuestJoins.Count;
            r.Guest.Disconnected += i => guestCloses.Add(i);
            r.Owner.Connected += w => ownerWelcomes++;
            r.Guest.Connected += w => guestWelcomes++;
            Console.WriteLine("RESTART NOW");
            Console.Out.Flush();
            // The drain's bye asks for a second's wait before reconnecting: the harness brings the
            // server back only once a connect has been refused, however fast it restarts.
            Until(() => guestCloses.Count >= 2, "a refused connect while the server is down", 90);
            Console.WriteLine("SERVER DOWN SEEN");
            Console.Out.Flush();
            Until(() => ownerWelcomes >= 1 && guestWelcomes >= 1 && r.GuestJoins.Count > joinsBefore, "both clients back after the restart", 90);
            Eq(1001, guestCloses[0].Code, "the drain's close code");
            Ok(guestCloses[0].FromBye && guestCloses[0].WillReconnect, "1001 comes with a bye and is reconnected: " + guestCloses[0]);
            Ok(guestCloses.Count >= 2 && guestCloses.Skip(1).All(c => c.WillReconnect),
               "refused connects while the server was down were retried: " + guestCloses.Count + " closes");
            var resumed = r.GuestJoins.Last();
            Eq("replay", resumed.Mode, "resume mode");
            Eq(before.Seq, resumed.Seq, "the op log survived the restart");
            r.GuestOps.Clear();
            var after = Edit(r.Owner, r.WorldId, EditOp.Move(inst.Id, inst.Position));
            Eq(before.Seq + 1, after.Seq, "seq continues after the restart");
            Until(() => r.GuestOps.Count == 1, "the guest to see the edit after the restart");
            Eq(after.Seq, r.GuestOps[0].Seq, "op seq");
        }

        // ---- telemetry ----

        static void TelemetryAcks()
        {
            var c = Connected(NewUser("tele"));
            var q = c.Telemetry;
            var events = new List<TelemetryEvent>();
            for (int i = 0; i < 3; i++) events.Add(q.Track("teleport", new Dictionary<string, object> { { "n", (long)i } }));
            var bad = q.Track("teleport");
            bad.Ts = -5;    // §7.3: ts ≥ 0, so the server rejects this one event
            var ack = Wait(q.FlushAsync(), "telemetry ack");
            Until(() => q.Pending == 0, "the queue to empty");
            Eq(3, ack.Ids.Count, "ack.ids");
            Eq(0, ack.Duplicates.Count, "ack.duplicates");
            Eq(1, ack.Rejected.Count, "ack.rejected");
            Eq(bad.Id, Wire.Str(ack.Rejected[0], "id"), "rejected id");
            var again = Wait(c.SendTelemetryAsync(events), "resent batch");
            Eq(3, again.Duplicates.Count, "a resent batch is all duplicates");
            Ok(events.All(e => again.Ids.Contains(e.Id)), "resent ids are acked");
        }

        static void TelemetryRetry()
        {
            var c = Connected(NewUser("tele2"), autoReconnect: false);
            c.DropConnection();
            WaitClosed(c, "the drop");
            c.Telemetry.Track("a");
            c.Telemetry.Track("b");
            var offline = c.Telemetry.FlushAsync();
            Until(() => offline.IsCompleted, "the offline flush");
            Ok(offline.IsFaulted, "a flush without a socket fails");
            Pump.Pump();
            Eq(2, c.Telemetry.Pending, "events stay queued");
            var acks = new List<TelemetryAck>();
            c.Telemetry.Acked += a => acks.Add(a);
            Wait(c.ReconnectAsync(), "reconnect");
            Until(() => acks.Count == 1 && c.Telemetry.Pending == 0, "the queued events to be acked after the reconnect");
            Eq(2, acks[0].Ids.Count, "acked ids");
            Eq(2L, c.Telemetry.Stored, "stored count");
        }

        // ---- errors and close codes ----

        static void BadFrame()
        {
            var c = Connected(NewUser("badframe"));
            ErrorInfo err = null;
            c.Error += e => err = e;
            c.SendRaw(new byte[] { 0xc1 });
            Until(() => err != null, "the error frame");
            Eq(Codes.BadFrame, err.Code, "bad_frame code");
            Eq("bad_frame", err.Name, "name");
            Ok(!err.Rid.HasValue, "an undecodable frame's error has no rid");
            Wait(c.PingAsync(), "the connection stays open");
        }

        static void ProtocolViolation()
        {
            var c = Connected(NewUser("violator"));
            for (int i = 0; i < 12 && c.IsConnected; i++) c.SendRaw(new byte[] { 0xc1 });
            var close = WaitClosed(c, "close 4503");
            Eq(Codes.ProtocolViolation, close.Code, "close code");
            Ok(close.FromBye, "bye before the close");
            Ok(!close.WillReconnect, "4503 is terminal");
        }

        // ---- tokens ----

        static void TokenRefresh()
        {
            string user = NewUser("refresh");
            var rest = Rest();
            var s = Login(rest, user);
            var c = NewClient(s.Token);
            Wait(c.ConnectAsync(), "connect");
            var fresh = Blocking(rest.RefreshAsync(), "REST refresh");
            var ok = Wait(c.RefreshTokenAsync(fresh.Token), "auth.refresh");
            Eq(user, ok.UserId, "auth.ok.user_id");
            Ok(ok.ExpiresAt > TelemetryEvent.Now(), "auth.ok.expires_at in the future");
            Eq(fresh.Token, c.Options.Token, "the client keeps the new token");
            var e = Fails(c.RefreshTokenAsync("not.a.jwt"), "refresh with a bad token");
            Eq(Codes.InvalidToken, e.Error.Code, "invalid_token");
            Eq(fresh.Token, c.Options.Token, "the old token stays in force");
            var other = Login(Rest(), NewUser("other")).Token;
            e = Fails(c.RefreshTokenAsync(other), "refresh with another user's token");
            Eq(Codes.Forbidden, e.Error.Code, "forbidden");
            Wait(c.PingAsync(), "still connected");
            // A token provider is asked before each reconnect.
            int asked = 0;
            c.Options.TokenProvider = () => { asked++; return rest.RefreshAsync().ContinueWith(t => t.Result.Token); };
            int welcomes = 0;
            c.Connected += w => welcomes++;
            c.DropConnection();
            Until(() => welcomes == 1, "the reconnect");
            Eq(1, asked, "token provider calls");
            Eq(user, c.Welcome.UserId, "same user after the reconnect");
        }

        static void TokenRevoked()
        {
            var rest = Rest();
            var s = Login(rest, NewUser("revoked"));
            var c = NewClient(s.Token);
            Wait(c.ConnectAsync(), "connect");
            Blocking(rest.LogoutAsync().ContinueWith(t => { t.Wait(); return true; }), "logout");
            var close = WaitClosed(c, "close 4501");
            Eq(Codes.TokenRevoked, close.Code, "close code");
            Ok(!close.WillReconnect, "4501 is terminal");
            Eq(ClientState.Closed, c.State, "state");
        }

        // ---- catalog ----

        static void CatalogETag()
        {
            var rest = Rest();
            Login(rest, NewUser("catalog"));
            var first = Blocking(rest.GetCatalogAsync(limit: 20), "catalog page");
            Ok(!first.FromCache, "first read from the server");
            Ok(!string.IsNullOrEmpty(first.ETag), "an ETag");
            Eq(20, first.Prefabs.Count, "page size");
            Ok(first.TotalCount >= 20, "total_count");
            Ok(first.Prefabs.All(p => Wire.Str(p, "id") != null && Wire.Str(p, "type") != null), "prefab rows");
            var second = Blocking(rest.GetCatalogAsync(limit: 20), "catalog page again");
            Ok(second.FromCache, "the repeat read is a 304 served from the cache");
            Eq(first.ETag, second.ETag, "same ETag");
            Ok(first.Prefabs.Select(p => Wire.Str(p, "id")).SequenceEqual(second.Prefabs.Select(p => Wire.Str(p, "id"))), "same rows");
            var buildings = Blocking(rest.GetCatalogAsync("building", 20), "filtered page");
            Ok(!buildings.FromCache, "another query is not served from that cache entry");
            Ok(buildings.Prefabs.All(p => Wire.Str(p, "type") == "building"), "filter by type");
        }
    }
}
