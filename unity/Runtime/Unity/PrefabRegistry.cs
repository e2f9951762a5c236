// Maps the server's prefab_id to what a Unity project instantiates: a prefab reference or an
// Addressables key, with a placeholder for ids the project does not have (yet).
using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using UnityEngine;

namespace ImmersiVerse.Unity
{
    [CreateAssetMenu(fileName = "PrefabRegistry", menuName = "ImmersiVerse/Prefab Registry")]
    public sealed class PrefabRegistry : ScriptableObject
    {
        [Serializable]
        public sealed class Entry
        {
            public string prefabId;
            [Tooltip("Instantiated directly when set.")] public GameObject prefab;
            [Tooltip("Used when no prefab is set (needs the Addressables package).")] public string addressableKey;
        }

        [Tooltip("Shown for unknown prefab ids and while an Addressable loads; a cube when empty.")]
        public GameObject placeholder;
        public List<Entry> entries = new List<Entry>();

        /// <summary>Set by the ImmersiVerse.Addressables assembly when com.unity.addressables is installed.</summary>
        public static Func<string, Transform, Task<GameObject>> AddressableInstantiate;
        /// <summary>Releases an Addressables instance; false when the object is not one.</summary>
        public static Func<GameObject, bool> AddressableRelease;

        Dictionary<string, Entry> byId;

        public Entry Find(string prefabId)
        {
            if (byId == null || byId.Count != entries.Count)
            {
                byId = new Dictionary<string, Entry>();
                foreach (var e in entries) if (e != null && !string.IsNullOrEmpty(e.prefabId)) byId[e.prefabId] = e;
            }
            Entry found;
            return prefabId != null && byId.TryGetValue(prefabId, out found) ? found : null;
        }

        void OnValidate() { byId = null; }

        /// <summary>A holder object named by the instance id, carrying its transform, with the
        /// visual as a child: the prefab, or the placeholder (replaced once an Addressable loads).
        /// The holder stays the same object, so maps from instance id stay valid.</summary>
        public GameObject Spawn(Instance instance, Transform parent)
        {
            var holder = new GameObject(instance.Id);
            holder.transform.SetParent(parent, false);
            holder.transform.Apply(instance);
            var entry = Find(instance.PrefabId);
            if (entry != null && entry.prefab != null)
            {
                Instantiate(entry.prefab, holder.transform, false);
                return holder;
            }
            var stand = MakePlaceholder(instance.PrefabId, holder.transform);
            if (entry != null && !string.IsNullOrEmpty(entry.addressableKey) && AddressableInstantiate != null)
                ReplaceWhenLoaded(holder, stand, entry.addressableKey);
            return holder;
        }

        public void Despawn(GameObject holder)
        {
            if (holder == null) return;
            if (AddressableRelease != null)
                foreach (Transform child in holder.transform) AddressableRelease(child.gameObject);
            Destroy(holder);
        }

        GameObject MakePlaceholder(string prefabId, Transform holder)
        {
            GameObject stand;
            if (placeholder != null) stand = Instantiate(placeholder, holder, false);
            else
            {
                stand = GameObject.CreatePrimitive(PrimitiveType.Cube);
                stand.transform.SetParent(holder, false);
            }
            stand.name = "placeholder " + prefabId;
            return stand;
        }

        async void ReplaceWhenLoaded(GameObject holder, GameObject stand, string key)
        {
            GameObject loaded = null;
            try { loaded = await AddressableInstantiate(key, holder.transform); }
            catch (Exception e) { Debug.LogWarning("ImmersiVerse: Addressable " + key + " failed to load: " + e.Message); }
            if (loaded == null) return;
            if (holder == null)
            {
                // The instance was removed while loading.
                if (AddressableRelease == null || !AddressableRelease(loaded)) Destroy(loaded);
                return;
            }
            loaded.transform.localPosition = Vector3.zero;
            loaded.transform.localRotation = Quaternion.identity;
            if (stand != null) Destroy(stand);
        }
    }
}
