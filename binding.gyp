{
  "targets": [
    {
      "target_name": "launch_native",
      "sources": [
        "addon/binding.cc",
        "addon/parent/spawn.cc",
        "addon/common/decode.c",
        "addon/parent/bpf.cc",
        "addon/parent/execmon.cc",
        "addon/parent/forward.cc",
        "addon/parent/seccomp.cc",
        "addon/child/child.c",
        "addon/child/console.c",
        "addon/child/steps.c",
        "addon/child/fsops.c",
        "addon/child/mountfd.c",
        "addon/child/seccomp.c",
        "addon/child/execimage.c"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "addon"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-fno-strict-aliasing"],
      "cflags_c": ["-std=gnu11"],
      "cflags_cc": ["-std=c++17"]
    },
    {
      "target_name": "launch-exec",
      "type": "executable",
      "sources": ["addon/exec/trampoline.c"],
      "include_dirs": ["addon"],
      "cflags": ["-Wall", "-Wextra", "-Os", "-ffreestanding", "-fno-builtin", "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-fno-pie"],
      "cflags!": ["-O3", "-pthread", "-fPIC"],
      "cflags_c": ["-std=gnu11"],
      "ldflags": ["-nostdlib", "-static", "-no-pie", "-s", "-Wl,--build-id=none"],
      "ldflags!": ["-rdynamic", "-pthread"]
    },
    {
      "target_name": "launch-front",
      "type": "executable",
      "sources": ["addon/front/entry.c", "addon/front/args.c", "addon/front/record.c", "addon/front/verbs.c", "addon/front/delete.c", "addon/front/pause.c", "addon/front/util.c", "addon/front/run.c"],
      "include_dirs": ["addon"],
      "cflags": ["-Wall", "-Wextra", "-Os", "-ffreestanding", "-fno-builtin", "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-fno-pie"],
      "cflags!": ["-O3", "-pthread", "-fPIC"],
      "cflags_c": ["-std=gnu11"],
      "ldflags": ["-nostdlib", "-static", "-no-pie", "-s", "-Wl,--build-id=none"],
      "ldflags!": ["-rdynamic", "-pthread"]
    },
    {
      "target_name": "launch-monitor",
      "type": "executable",
      "sources": ["addon/monitor/monitor.c", "addon/monitor/relay.c", "addon/monitor/hooks.c", "addon/monitor/compiled.c", "addon/monitor/entry.c",
                  "addon/common/decode.c", "addon/child/child.c", "addon/child/console.c", "addon/child/steps.c", "addon/child/fsops.c",
                  "addon/child/mountfd.c", "addon/child/seccomp.c", "addon/child/execimage.c"],
      "include_dirs": ["addon"],
      "defines": ["_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-Os", "-ffunction-sections", "-fdata-sections"],
      "cflags!": ["-O3", "-pthread"],
      "cflags_c": ["-std=gnu11"],
      "ldflags": ["-static", "-Wl,--gc-sections", "-s"],
      "ldflags!": ["-rdynamic", "-pthread"]
    }
  ]
}
