// Tools ▸ ImmersiVerse ▸ Export Prefab Catalog: writes the project's prefabs, with footprints from
// their bounds, as the file `immersiverse catalog import` accepts (docs/catalog.md). The file is
// built and checked by ImmersiVerse.CatalogFile (Runtime/CatalogFile.cs); this window only
// gathers data from the AssetDatabase.
using System;
using System.Collections.Generic;
using System.IO;
using ImmersiVerse.Unity;
using UnityEditor;
using UnityEngine;

namespace ImmersiVerse.EditorTools
{
    public sealed class CatalogExporter : EditorWindow
    {
        string folder = "Assets";
        string catalogVersion = "1.0.0";
        string assetVersion = "1.0.0";
        string defaultType = "prop";
        string downloadUrlFormat = "https://assets.example.com/prefabs/{id}-{version}.unitypackage";
        string thumbnailUrlFormat = "https://assets.example.com/thumbs/{id}.png";

        [MenuItem("Tools/ImmersiVerse/Export Prefab Catalog...")]
        static void Open() { GetWindow<CatalogExporter>("Catalog Export"); }

        void OnGUI()
        {
            folder = EditorGUILayout.TextField("Prefab folder", folder);
            catalogVersion = EditorGUILayout.TextField("Catalog version", catalogVersion);
            assetVersion = EditorGUILayout.TextField("Asset version", assetVersion);
            defaultType = EditorGUILayout.TextField("Default type", defaultType);
            downloadUrlFormat = EditorGUILayout.TextField("Download URL ({id}, {version})", downloadUrlFormat);
            thumbnailUrlFormat = EditorGUILayout.TextField("Thumbnail URL ({id})", thumbnailUrlFormat);
            if (!GUILayout.Button("Export...")) return;
            string path = EditorUtility.SaveFilePanel("Export prefab catalog", "", "catalog.json", "json");
            if (string.IsNullOrEmpty(path)) return;
            try
            {
                var entries = Collect();
                File.WriteAllText(path, CatalogFile.Write(catalogVersion, entries));
                Debug.Log("ImmersiVerse: exported " + entries.Count + " prefabs to " + path + "; load it with `immersiverse catalog import " + path + "`");
            }
            catch (ArgumentException e)
            {
                // Every invalid row, as the importer would report them; nothing is written.
                Debug.LogError("ImmersiVerse: catalog not written:\n" + e.Message);
            }
        }

        public List<CatalogEntry> Collect()
        {
            var entries = new List<CatalogEntry>();
            foreach (string guid in AssetDatabase.FindAssets("t:Prefab", new[] { folder }))
            {
                string path = AssetDatabase.GUIDToAssetPath(guid);
                var prefab = AssetDatabase.LoadAssetAtPath<GameObject>(path);
                if (prefab != null) entries.Add(Describe(prefab, path));
            }
            return entries;
        }

        CatalogEntry Describe(GameObject prefab, string path)
        {
            var info = prefab.GetComponent<PrefabInfo>();
            string id = info != null && !string.IsNullOrEmpty(info.prefabId) ? info.prefabId : CatalogEntry.IdFromName(prefab.name);
            Vector3 size = Footprint(prefab);
            var e = new CatalogEntry
            {
                Id = id, Name = prefab.name, Version = assetVersion,
                Type = info != null ? info.prefabType : defaultType,
                Description = info != null && !string.IsNullOrEmpty(info.description) ? info.description : prefab.name + " (exported from Unity)",
                DownloadUrl = downloadUrlFormat.Replace("{id}", id).Replace("{version}", assetVersion),
                ThumbnailUrl = thumbnailUrlFormat.Replace("{id}", id),
                SizeBytes = new FileInfo(path).Length,
                // A footprint of at least 1 cm: the importer requires sizes above zero.
                Width = Math.Max(0.01, size.x), Depth = Math.Max(0.01, size.z), Height = Math.Max(0.01, size.y),
                Solid = prefab.GetComponentInChildren<Collider>(true) != null,
            };
            if (info != null)
            {
                e.WorldTypes.AddRange(info.worldTypes);
                e.Tags.AddRange(info.tags);
                e.Surface = info.surface;
                e.Pattern = info.pattern;
                e.ScaleMin = info.scaleMin;
                e.ScaleMax = info.scaleMax;
                e.Landmark = info.landmark;
            }
            foreach (string label in AssetDatabase.GetLabels(prefab))
                if (!e.Tags.Contains(label.ToLowerInvariant())) e.Tags.Add(label.ToLowerInvariant());
            return e;
        }

        /// <summary>Size of the prefab at scale 1, from its renderers (or colliders), measured on a
        /// temporary instance at the origin: a prefab asset's own renderers report no bounds.</summary>
        static Vector3 Footprint(GameObject prefab)
        {
            var instance = (GameObject)PrefabUtility.InstantiatePrefab(prefab);
            try
            {
                instance.transform.position = Vector3.zero;
                instance.transform.rotation = Quaternion.identity;
                instance.transform.localScale = Vector3.one;
                bool any = false;
                var bounds = new Bounds(Vector3.zero, Vector3.zero);
                foreach (var r in instance.GetComponentsInChildren<Renderer>())
                {
                    if (!any) { bounds = r.bounds; any = true; } else bounds.Encapsulate(r.bounds);
                }
                if (!any)
                    foreach (var c in instance.GetComponentsInChildren<Collider>())
                    {
                        if (!any) { bounds = c.bounds; any = true; } else bounds.Encapsulate(c.bounds);
                    }
                return any ? bounds.size : Vector3.one;
            }
            finally { DestroyImmediate(instance); }
        }
    }
}
