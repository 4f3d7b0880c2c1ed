# Runs one libFuzzer target for a bounded time on a fresh copy of its seed corpus.
# Called by CTest: cmake -DSEEDS= -DWORK= -DARTIFACTS= -DFUZZER= -P run_fuzzer.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK} ${ARTIFACTS})
file(GLOB seeds ${SEEDS}/*)
file(COPY ${seeds} DESTINATION ${WORK})
execute_process(
  COMMAND ${FUZZER} -max_total_time=20 -artifact_prefix=${ARTIFACTS}/ -rss_limit_mb=2048 -max_len=8400
          -print_final_stats=1 ${WORK}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${rc}); crash input in ${ARTIFACTS}")
endif()
