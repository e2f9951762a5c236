// Ground for a streamed world from its header (docs/protocol.md §6.5): a mesh from the
// heightmap samples and a water plane when the header carries them, otherwise a flat plane over
// the bounds (a server whose header has no samples).
using ImmersiVerse;
using ImmersiVerse.Unity;
using UnityEngine;

namespace ImmersiVerse.Samples
{
    public static class TerrainBuilder
    {
        public static GameObject Build(WorldHeader header, Transform parent, Material material)
        {
            var t = header.Terrain;
            bool heights = t != null && t.Heights != null && t.Resolution > 1 && t.Heights.Length == t.Resolution * t.Resolution;
            GameObject ground = heights ? HeightmapMesh(header, t) : FlatGround(header);
            ground.name = "Ground";
            ground.transform.SetParent(parent, false);
            ground.GetComponent<MeshRenderer>().sharedMaterial = material != null ? material : DefaultMaterial();
            if (heights && t.WaterMask != null && System.Array.IndexOf(t.WaterMask, true) >= 0) Water(header, t, parent);
            return ground;
        }

        /// <summary>The render pipeline's default material (built-in, URP or HDRP), taken from a
        /// primitive, so the mesh is not drawn magenta when no material is assigned.</summary>
        static Material DefaultMaterial()
        {
            var probe = GameObject.CreatePrimitive(PrimitiveType.Plane);
            var m = probe.GetComponent<MeshRenderer>().sharedMaterial;
            Object.Destroy(probe);
            return m;
        }

        static void Extent(WorldHeader h, out Vector3 min, out Vector3 max)
        {
            if (h.HasBounds) { min = h.BoundsMin.ToUnity(); max = h.BoundsMax.ToUnity(); return; }
            float half = h.Terrain != null && h.Terrain.Size > 0 ? (float)h.Terrain.Size / 2 : 50f;
            min = new Vector3(-half, 0, -half);
            max = new Vector3(half, 0, half);
        }

        static GameObject FlatGround(WorldHeader h)
        {
            Vector3 min, max;
            Extent(h, out min, out max);
            var plane = GameObject.CreatePrimitive(PrimitiveType.Plane);   // 10 × 10 m at scale 1
            // Without samples the ground is flat at the water level; instances keep their heights.
            float y = h.Terrain != null ? (float)h.Terrain.WaterLevel : 0f;
            plane.transform.localPosition = new Vector3((min.x + max.x) / 2, y, (min.z + max.z) / 2);
            plane.transform.localScale = new Vector3((max.x - min.x) / 10f, 1, (max.z - min.z) / 10f);
            return plane;
        }

        static GameObject HeightmapMesh(WorldHeader h, TerrainInfo t)
        {
            // One vertex per heightmap sample, at the ground height the generator places things
            // on (TerrainInfo.GroundHeight: the samples, kept clear of the water level by the masks).
            int n = t.Resolution;
            float spacing = t.Spacing > 0 ? (float)t.Spacing : (float)(t.Size / (n - 1));
            float half = (float)t.Size / 2;
            var vertices = new Vector3[n * n];
            var uv = new Vector2[n * n];
            for (int z = 0; z < n; z++)
                for (int x = 0; x < n; x++)
                {
                    float wx = -half + x * spacing, wz = -half + z * spacing;
                    vertices[z * n + x] = new Vector3(wx, (float)t.GroundHeight(wx, wz), wz);
                    uv[z * n + x] = new Vector2(x / (float)(n - 1), z / (float)(n - 1));
                }
            var triangles = new int[(n - 1) * (n - 1) * 6];
            int k = 0;
            for (int z = 0; z < n - 1; z++)
                for (int x = 0; x < n - 1; x++)
                {
                    int i = z * n + x;
                    triangles[k++] = i; triangles[k++] = i + n; triangles[k++] = i + 1;       // clockwise from above
                    triangles[k++] = i + 1; triangles[k++] = i + n; triangles[k++] = i + n + 1;
                }
            var mesh = new Mesh { name = "ImmersiVerse terrain" };
            if (vertices.Length > 65535) mesh.indexFormat = UnityEngine.Rendering.IndexFormat.UInt32;
            mesh.vertices = vertices;
            mesh.uv = uv;
            mesh.triangles = triangles;
            mesh.RecalculateNormals();
            mesh.RecalculateBounds();
            var go = new GameObject();
            go.AddComponent<MeshFilter>().sharedMesh = mesh;
            go.AddComponent<MeshRenderer>();
            go.AddComponent<MeshCollider>().sharedMesh = mesh;
            return go;
        }

        static void Water(WorldHeader h, TerrainInfo t, Transform parent)
        {
            Vector3 min, max;
            Extent(h, out min, out max);
            var water = GameObject.CreatePrimitive(PrimitiveType.Plane);
            water.name = "Water";
            water.transform.SetParent(parent, false);
            water.transform.localPosition = new Vector3((min.x + max.x) / 2, (float)t.WaterLevel, (min.z + max.z) / 2);
            water.transform.localScale = new Vector3((max.x - min.x) / 10f, 1, (max.z - min.z) / 10f);
            var r = water.GetComponent<MeshRenderer>();
            r.material.color = new Color(0.2f, 0.4f, 0.7f, 1f);
            Object.Destroy(water.GetComponent<Collider>());
        }
    }
}
