# One INTERFACE target carries the warning flags; every project target links it.
add_library(fleetban_warnings INTERFACE)
target_compile_options(fleetban_warnings INTERFACE -Wall -Wextra -Wpedantic -Wconversion -Wno-sign-conversion
  # Designated initializers leave the other members at their defaults on purpose.
  -Wno-missing-field-initializers)
if(FLEETBAN_WERROR)
  target_compile_options(fleetban_warnings INTERFACE -Werror)
endif()
