// Stand-ins for the few UnityEngine/UnityEditor members the package's Unity-only code uses, so
// that Mono can type-check Runtime/Unity, Editor and the sample (unity/conformance.sh). They model
// signatures only; they are not Unity, and passing this check says nothing about runtime
// behaviour in Unity. Never compiled by Unity (the .asmdef's define constraint is never set).
using System;
using System.Collections;
using System.Collections.Generic;
namespace UnityEngine {
  public class Object { public string name; public static T Instantiate<T>(T o, Transform p, bool w) where T : Object { return o; } public static void Destroy(Object o) {} public static void DestroyImmediate(Object o) {}
    public static implicit operator bool(Object o) { return o != null; } }
  public class Component : Object { public GameObject gameObject; public Transform transform; public T GetComponent<T>() { return default(T); } public T GetComponentInChildren<T>(bool b) { return default(T); } public T[] GetComponentsInChildren<T>() { return null; } }
  public class Behaviour : Component {} public class MonoBehaviour : Behaviour {} public class ScriptableObject : Object { public static T CreateInstance<T>() where T : ScriptableObject { return null; } }
  public sealed class GameObject : Object { public GameObject() {} public GameObject(string n) {} public Transform transform; public static GameObject CreatePrimitive(PrimitiveType t) { return null; }
    public T AddComponent<T>() where T : Component { return null; } public T GetComponent<T>() { return default(T); } public T GetComponentInChildren<T>(bool b) { return default(T); } public T[] GetComponentsInChildren<T>() { return null; } }
  public enum PrimitiveType { Cube, Plane }
  public class Transform : Component, IEnumerable { public Vector3 localPosition, position, localScale; public Quaternion localRotation, rotation; public void SetParent(Transform p, bool w) {} public void LookAt(Vector3 v) {} public IEnumerator GetEnumerator() { return null; } }
  public struct Vector3 { public float x, y, z; public Vector3(float x, float y, float z) { this.x = x; this.y = y; this.z = z; } public static Vector3 zero, one; public static Vector3 operator +(Vector3 a, Vector3 b) { return a; } }
  public struct Vector2 { public Vector2(float x, float y) {} }
  public struct Quaternion { public float x, y, z, w; public Quaternion(float x, float y, float z, float w) { this.x = x; this.y = y; this.z = z; this.w = w; } public static Quaternion identity; }
  public struct Color { public Color(float r, float g, float b, float a) {} }
  public struct Bounds { public Bounds(Vector3 c, Vector3 s) { size = s; } public Vector3 size; public void Encapsulate(Bounds b) {} }
  public sealed class Mesh : Object { public Rendering.IndexFormat indexFormat; public Vector3[] vertices; public Vector2[] uv; public int[] triangles; public void RecalculateNormals() {} public void RecalculateBounds() {} }
  public sealed class MeshFilter : Component { public Mesh sharedMesh; }
  public class Renderer : Component { public Bounds bounds; public Material sharedMaterial, material; } public sealed class MeshRenderer : Renderer {}
  public class Collider : Component { public Bounds bounds; } public sealed class MeshCollider : Collider { public Mesh sharedMesh; }
  public class Material : Object { public Color color; }
  public sealed class Camera : Component { public static Camera main; }
  public static class Debug { public static void Log(object o) {} public static void LogWarning(object o) {} public static void LogError(object o) {} public static void LogException(Exception e) {} }
  public static class GUILayout { public static bool Button(string s) { return false; } }
  public class HeaderAttribute : Attribute { public HeaderAttribute(string s) {} } public class TextAreaAttribute : Attribute {} public class TooltipAttribute : Attribute { public TooltipAttribute(string s) {} }
  public class ContextMenu : Attribute { public ContextMenu(string s) {} } public class CreateAssetMenuAttribute : Attribute { public string fileName, menuName; }
  public class DisallowMultipleComponent : Attribute {} public class AddComponentMenu : Attribute { public AddComponentMenu(string s) {} }
  public enum RuntimeInitializeLoadType { BeforeSceneLoad } public class RuntimeInitializeOnLoadMethodAttribute : Attribute { public RuntimeInitializeOnLoadMethodAttribute(RuntimeInitializeLoadType t) {} }
  public class SerializeField : Attribute {}
  public class AsyncOperation { public event Action<AsyncOperation> completed; }
}
namespace UnityEngine.Rendering { public enum IndexFormat { UInt16, UInt32 } }
namespace UnityEngine.Networking {
  public class DownloadHandler { public string text; } public sealed class DownloadHandlerBuffer : DownloadHandler {}
  public class UploadHandler {} public sealed class UploadHandlerRaw : UploadHandler { public UploadHandlerRaw(byte[] b) {} }
  public sealed class UnityWebRequestAsyncOperation : AsyncOperation {}
  public sealed class UnityWebRequest : IDisposable { public UnityWebRequest(string u, string m) {} public DownloadHandler downloadHandler; public UploadHandler uploadHandler; public long responseCode; public string error;
    public void SetRequestHeader(string k, string v) {} public UnityWebRequestAsyncOperation SendWebRequest() { return null; } public Dictionary<string, string> GetResponseHeaders() { return null; } public void Dispose() {} }
}
namespace UnityEditor {
  public class EditorWindow : UnityEngine.ScriptableObject { public static T GetWindow<T>(string title) where T : EditorWindow { return null; } }
  public static class EditorGUILayout { public static string TextField(string l, string v) { return v; } }
  public static class EditorUtility { public static string SaveFilePanel(string a, string b, string c, string d) { return ""; } }
  public static class AssetDatabase { public static string[] FindAssets(string f, string[] d) { return null; } public static string GUIDToAssetPath(string g) { return g; } public static T LoadAssetAtPath<T>(string p) where T : UnityEngine.Object { return null; } public static string[] GetLabels(UnityEngine.Object o) { return null; } }
  public static class PrefabUtility { public static UnityEngine.Object InstantiatePrefab(UnityEngine.Object o) { return o; } }
  public class MenuItem : Attribute { public MenuItem(string s) {} }
}
