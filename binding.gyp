{
  "targets": [
    {
      "target_name": "launch_native",
      "sources": [
        "addon/binding.cc",
        "addon/parent/spawn.cc",
        "addon/parent/bpf.cc",
        "addon/child/child.c",
        "addon/child/console.c",
        "addon/child/steps.c",
        "addon/child/fsops.c"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "addon"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-fno-strict-aliasing"],
      "cflags_c": ["-std=gnu11"],
      "cflags_cc": ["-std=c++17"]
    }
  ]
}
