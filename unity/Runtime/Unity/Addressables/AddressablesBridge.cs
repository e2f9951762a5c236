// Compiled only when com.unity.addressables is installed (see the .asmdef's versionDefines):
// lets PrefabRegistry entries name an Addressables key instead of a prefab.
#if IMMERSIVERSE_ADDRESSABLES
using UnityEngine;
using UnityEngine.AddressableAssets;

namespace ImmersiVerse.Unity
{
    static class AddressablesBridge
    {
        [RuntimeInitializeOnLoadMethod(RuntimeInitializeLoadType.BeforeSceneLoad)]
        static void Register()
        {
            PrefabRegistry.AddressableInstantiate = (key, parent) => Addressables.InstantiateAsync(key, parent).Task;
            PrefabRegistry.AddressableRelease = go => Addressables.ReleaseInstance(go);
        }
    }
}
#endif
