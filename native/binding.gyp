{
  "targets": [
    {
      "target_name": "vrft_kernels",
      "sources": ["kernels.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-ffp-contract=fast"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-ffp-contract=fast"] },
      "msvs_settings": { "VCCLCompilerTool": { "Optimization": 2 } }
    }
  ]
}
