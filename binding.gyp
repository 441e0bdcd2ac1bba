# node-gyp build of the addon: the same sources, defines and flags as
# CMakeLists.txt, read from native/sources.json.
{
  "targets": [
    {
      "target_name": "liveprobe",
      "sources": ["<!@(node -p \"require('./native/sources.json').sources.join(' ')\")"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["<!@(node -p \"require('./native/sources.json').defines.join(' ')\")"],
      "cflags_cc!": ["-std=gnu++17"],
      "cflags_cc": ["<!@(node -p \"require('./native/sources.json').cflags.join(' ')\")"],
      "ldflags": ["-pthread"]
    }
  ]
}
