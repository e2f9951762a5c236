// Edit ops (docs/protocol.md §6.4): add, move, set, remove.
using System.Collections.Generic;

namespace ImmersiVerse
{
    public sealed class EditOp : IWireMap
    {
        public string Op, Id, PrefabId, PrefabType;
        public Vec3? Position, Scale;
        public Quat? Rotation;
        public Dictionary<string, object> Props;

        public static EditOp Add(string prefabId, Vec3 pos, string id = null, Quat? rot = null, Vec3? scale = null,
                                 Dictionary<string, object> props = null)
        {
            return new EditOp { Op = "add", PrefabId = prefabId, Position = pos, Id = id, Rotation = rot, Scale = scale, Props = props };
        }

        public static EditOp Move(string id, Vec3? pos = null, Quat? rot = null, Vec3? scale = null)
        {
            return new EditOp { Op = "move", Id = id, Position = pos, Rotation = rot, Scale = scale };
        }

        /// <summary>Merge props into the instance's props; a null value deletes a key.</summary>
        public static EditOp Set(string id, Dictionary<string, object> props)
        {
            return new EditOp { Op = "set", Id = id, Props = props };
        }

        public static EditOp Remove(string id) { return new EditOp { Op = "remove", Id = id }; }

        public Dictionary<string, object> ToMap()
        {
            var m = new Dictionary<string, object> { { "op", Op } };
            if (Id != null) m["id"] = Id;
            if (PrefabId != null) m["prefab_id"] = PrefabId;
            if (Position.HasValue) m["pos"] = Position.Value.ToWire();
            if (Rotation.HasValue) m["rot"] = Rotation.Value.ToWire();
            if (Scale.HasValue) m["scale"] = Scale.Value.ToWire();
            if (Props != null) m["props"] = Props;
            return m;
        }

        public static EditOp FromMap(Dictionary<string, object> m)
        {
            var op = new EditOp
            {
                Op = Wire.Str(m, "op"), Id = Wire.Str(m, "id"), PrefabId = Wire.Str(m, "prefab_id"),
                PrefabType = Wire.Str(m, "prefab_type"), Props = Wire.Map(m, "props"),
            };
            Vec3 v;
            if (Vec3.TryParse(Wire.Get(m, "pos"), out v)) op.Position = v;
            if (Vec3.TryParse(Wire.Get(m, "scale"), out v)) op.Scale = v;
            if (Wire.Get(m, "rot") != null) op.Rotation = Quat.Parse(Wire.Get(m, "rot"), Quat.Identity);
            return op;
        }

        /// <summary>The instance an applied `add` creates (ids, rot, scale and props are filled in
        /// the `op` broadcast, §7.4).</summary>
        public Instance ToInstance()
        {
            return new Instance
            {
                Id = Id, PrefabId = PrefabId, PrefabType = PrefabType,
                Position = Position ?? default(Vec3), Rotation = Rotation ?? Quat.Identity,
                Scale = Scale ?? new Vec3(1, 1, 1), Props = Props ?? new Dictionary<string, object>(),
            };
        }
    }
}
