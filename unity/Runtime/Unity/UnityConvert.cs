// Wire values ↔ Unity types. Unity is left-handed, Y-up, metres, like the wire: no axis flips
// (docs/protocol.md §12).
using UnityEngine;

namespace ImmersiVerse.Unity
{
    public static class UnityConvert
    {
        public static Vector3 ToUnity(this Vec3 v) { return new Vector3((float)v.X, (float)v.Y, (float)v.Z); }

        public static Quaternion ToUnity(this Quat q) { return new Quaternion((float)q.X, (float)q.Y, (float)q.Z, (float)q.W); }

        public static Vec3 ToWire(this Vector3 v) { return new Vec3(v.x, v.y, v.z); }

        public static Quat ToWire(this Quaternion q) { return new Quat(q.x, q.y, q.z, q.w); }

        /// <summary>Set a transform from an instance (position, rotation, scale, relative to the parent).</summary>
        public static void Apply(this Transform t, Instance instance)
        {
            t.localPosition = instance.Position.ToUnity();
            t.localRotation = instance.Rotation.ToUnity();
            t.localScale = instance.Scale.ToUnity();
        }
    }
}
