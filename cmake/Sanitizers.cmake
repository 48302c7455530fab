# FLEETBAN_SANITIZE=ON builds everything with AddressSanitizer and UndefinedBehaviorSanitizer.
if(FLEETBAN_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# FLEETBAN_FUZZ=ON (clang): every library gets the fuzzer's coverage instrumentation, plus ASan/UBSan.
if(FLEETBAN_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
