// Optional catalog data on a prefab's root, read by the catalog exporter (Editor/CatalogExporter.cs).
// Without it the exporter uses the window's defaults and the asset labels as tags.
using System.Collections.Generic;
using UnityEngine;

namespace ImmersiVerse.Unity
{
    [DisallowMultipleComponent]
    [AddComponentMenu("ImmersiVerse/Prefab Info")]
    public sealed class PrefabInfo : MonoBehaviour
    {
        [Tooltip("Catalog id ([a-z0-9_], ≤ 64); empty = derived from the prefab's name.")]
        public string prefabId = "";
        [Tooltip("building, vehicle, character, prop, environment, lighting, effect or ui")]
        public string prefabType = "prop";
        [Tooltip("fantasy, sci_fi, realistic, surreal, historical, urban, nature, space")]
        public List<string> worldTypes = new List<string>();
        [TextArea] public string description = "";
        public List<string> tags = new List<string>();
        [Tooltip("ground, water, wall or air")] public string surface = "ground";
        [Tooltip("single, cluster, scatter, line or ring")] public string pattern = "single";
        public float scaleMin = 1f, scaleMax = 1f;
        public bool landmark;
    }
}
