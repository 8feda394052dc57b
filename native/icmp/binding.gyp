{
  "targets": [
    {
      "target_name": "tandem_icmp",
      "sources": ["src/icmp.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["OS!='linux'", { "type": "none", "sources!": ["src/icmp.c"] }]
      ]
    }
  ]
}
