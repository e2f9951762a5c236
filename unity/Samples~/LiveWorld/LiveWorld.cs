// The Live World sample: log in as a guest, connect, send a prompt (or join a shared world),
// build the ground from the world header, instantiate each chunk's instances as they stream in
// (a bounded number per frame), and apply other members' edits live. See docs/unity.md.
using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using ImmersiVerse;
using ImmersiVerse.Unity;
using UnityEngine;

namespace ImmersiVerse.Samples
{
    public sealed class LiveWorld : MonoBehaviour
    {
        [Header("Server")]
        public string serverUrl = "http://127.0.0.1:8000";
        public string userId = "unity-guest";

        [Header("World")]
        [TextArea] public string prompt = "a fishing village by a lake with a lighthouse, pine trees and a road";
        public long seed = 7;
        public int maxInstances = 2000;
        [Tooltip("Join this world instead of generating one (its owner must share it with you or make it public).")]
        public string joinWorldId = "";

        [Header("Scene")]
        public PrefabRegistry registry;
        public Material groundMaterial;
        [Tooltip("Instances created per frame, so a large chunk never stalls a frame.")]
        public int spawnsPerFrame = 200;

        ImmersiVerseClient client;
        RestClient rest;
        string worldId;
        Transform worldRoot;
        // The world as last received, by instance id; objects are created from it over frames.
        readonly Dictionary<string, Instance> state = new Dictionary<string, Instance>();
        readonly Dictionary<string, GameObject> objects = new Dictionary<string, GameObject>();
        readonly Queue<string> toSpawn = new Queue<string>();

        async void Start()
        {
            // Without a registry every instance is a placeholder cube.
            if (registry == null) registry = ScriptableObject.CreateInstance<PrefabRegistry>();
#if UNITY_WEBGL && !UNITY_EDITOR
            rest = new RestClient(serverUrl, new UnityWebRequestHttp());
#else
            rest = new RestClient(serverUrl);
#endif
            try
            {
                var session = await rest.LoginGuestAsync(userId);
                client = new ImmersiVerseClient(new ClientOptions
                {
                    Url = rest.SocketUrl, Token = session.Token, TokenProvider = RefreshToken, Log = Debug.Log,
#if UNITY_WEBGL && !UNITY_EDITOR
                    TickMilliseconds = 0,   // no timers in WebGL: Update() calls Tick()
#endif
                });
                client.Dispatcher.OnHandlerError = Debug.LogException;   // exceptions in the handlers below
                client.GenerationStarted += OnGenerationStarted;
                client.ChunkReceived += OnChunk;
                client.GenerationDone += d => { if (d.WorldId == worldId) Debug.Log("world " + d.WorldId + ": " + d.Status + ", " + d.Instances + " instances"); };
                client.SnapshotReceived += OnSnapshot;
                client.OpReceived += OnOp;
                client.PresenceReceived += p => Debug.Log("presence: " + p.Event + " " + p.Member.DisplayName);
                client.Disconnected += c => Debug.Log("disconnected: " + c);
                client.WorldLost += (id, e) => Debug.LogWarning("world " + id + " is gone: " + e);
                await client.ConnectAsync();
                if (string.IsNullOrEmpty(joinWorldId))
                {
                    var gen = client.Generate(prompt, new GenerateOptions { Seed = seed, MaxInstances = maxInstances });
                    gen.Failed += e => Debug.LogError("generation failed: " + e);
                }
                else
                    await client.JoinAsync(joinWorldId);
            }
            catch (Exception e)
            {
                Debug.LogException(e);
            }
        }

        /// <summary>The client's TokenProvider: a fresh token for this session before the current
        /// one expires; once it has expired (refresh refused), a new guest login.</summary>
        async Task<string> RefreshToken()
        {
            try { return (await rest.RefreshAsync()).Token; }
            catch (RestException) { return (await rest.LoginGuestAsync(userId)).Token; }
        }

        void OnGenerationStarted(GenStart s)
        {
            if (!s.Own && s.WorldId != worldId) return;   // another world's generation
            StartWorld(s.WorldId, s.Header);
        }

        void OnChunk(GenChunk c)
        {
            if (c.WorldId != worldId) return;
            foreach (var i in c.Instances) Put(i);
        }

        void OnSnapshot(Snapshot s)
        {
            // A snapshot (first join, or a resume too far behind to replay) replaces the world.
            if (s.Index == 0) StartWorld(s.WorldId, s.Header);
            foreach (var i in s.Instances) Put(i);
        }

        void OnOp(OpFrame o)
        {
            if (o.WorldId != worldId) return;
            foreach (var op in o.Ops)
            {
                Instance current;
                bool known = state.TryGetValue(op.Id ?? "", out current);
                switch (op.Op)
                {
                    case "add":
                        Put(op.ToInstance());
                        break;
                    case "move":
                        if (!known) break;
                        if (op.Position.HasValue) current.Position = op.Position.Value;
                        if (op.Rotation.HasValue) current.Rotation = op.Rotation.Value;
                        if (op.Scale.HasValue) current.Scale = op.Scale.Value;
                        GameObject moved;
                        if (objects.TryGetValue(op.Id, out moved)) moved.transform.Apply(current);
                        break;
                    case "set":
                        if (!known || op.Props == null) break;
                        foreach (var kv in op.Props)
                            if (kv.Value == null) current.Props.Remove(kv.Key); else current.Props[kv.Key] = kv.Value;
                        break;
                    case "remove":
                        state.Remove(op.Id);
                        GameObject gone;
                        if (objects.TryGetValue(op.Id, out gone)) { objects.Remove(op.Id); registry.Despawn(gone); }
                        break;
                }
            }
        }

        void StartWorld(string id, WorldHeader header)
        {
            worldId = id;
            state.Clear();
            objects.Clear();
            toSpawn.Clear();
            if (worldRoot != null) Destroy(worldRoot.gameObject);
            worldRoot = new GameObject("World " + id).transform;
            worldRoot.SetParent(transform, false);
            if (header != null)
            {
                TerrainBuilder.Build(header, worldRoot, groundMaterial);
                if (header.SpawnPoints.Count > 0 && Camera.main != null)
                {
                    var spawn = header.SpawnPoints[0].ToUnity();
                    Camera.main.transform.position = spawn + new Vector3(0, 25, -35);
                    Camera.main.transform.LookAt(spawn);
                }
            }
        }

        void Put(Instance i)
        {
            bool queued = state.ContainsKey(i.Id);
            state[i.Id] = i;
            GameObject existing;
            if (objects.TryGetValue(i.Id, out existing)) existing.transform.Apply(i);
            else if (!queued) toSpawn.Enqueue(i.Id);
        }

        void Update()
        {
            if (client != null && client.Options.TickMilliseconds == 0) client.Tick();
            for (int n = 0; n < spawnsPerFrame && toSpawn.Count > 0; n++)
            {
                string id = toSpawn.Dequeue();
                Instance i;
                if (!state.TryGetValue(id, out i) || objects.ContainsKey(id)) continue;   // removed meanwhile
                objects[id] = registry.Spawn(i, worldRoot);
            }
        }

        /// <summary>An edit from the sample: a copy of the first instance's prefab, 2 m from it.</summary>
        [ContextMenu("Add a copy of the first instance")]
        async void AddCopy()
        {
            foreach (var i in state.Values)
            {
                var pos = new Vec3(i.Position.X + 2, i.Position.Y, i.Position.Z);
                try
                {
                    var ack = await client.EditAsync(worldId, new[] { EditOp.Add(i.PrefabId, pos) });
                    Debug.Log("edit " + ack.Results[0].Outcome + " at seq " + ack.Seq);
                    if (ack.Results[0].Outcome == "applied") Put(new Instance { Id = ack.Results[0].Id, PrefabId = i.PrefabId, PrefabType = ack.Results[0].PrefabType, Position = pos });
                }
                catch (ImmersiVerseException e) { Debug.LogWarning("edit refused: " + e.Message); }
                return;
            }
        }

        void OnDestroy()
        {
            if (client != null) client.Dispose();
        }
    }
}
