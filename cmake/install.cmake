# `cmake --install`: the public headers (with the generated version.h),
# libdubbo.so and libdubbo.a, dubbo.pc for pkg-config, and a CMake package
# (find_package(dubbo) gives the imported target dubbo::dubbo, the shared
# library). Included by the top-level CMakeLists.txt after the targets.
include(CMakePackageConfigHelpers)

install(DIRECTORY include/dubbo DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_BINARY_DIR}/include/dubbo/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dubbo)
install(TARGETS dubbo ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(TARGET dubbo_shared)
  install(TARGETS dubbo_shared EXPORT dubboTargets
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  set(DUBBO_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/dubbo)
  install(EXPORT dubboTargets NAMESPACE dubbo:: DESTINATION ${DUBBO_CMAKE_DIR})
  configure_package_config_file(cmake/dubboConfig.cmake.in
                                ${CMAKE_CURRENT_BINARY_DIR}/dubboConfig.cmake
                                INSTALL_DESTINATION ${DUBBO_CMAKE_DIR})
  # 0.x: a minor release may break the API, as the soname says.
  write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/dubboConfigVersion.cmake
                                   COMPATIBILITY SameMinorVersion)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/dubboConfig.cmake
                ${CMAKE_CURRENT_BINARY_DIR}/dubboConfigVersion.cmake
          DESTINATION ${DUBBO_CMAKE_DIR})
endif()

# dubbo.pc is written at install time, so that its prefix is the one given
# to `cmake --install --prefix DIR`, not only the configured one.
install(CODE "
  set(DUBBO_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(CMAKE_INSTALL_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(CMAKE_INSTALL_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  configure_file(\"${CMAKE_CURRENT_SOURCE_DIR}/cmake/dubbo.pc.in\"
                 \"${CMAKE_CURRENT_BINARY_DIR}/dubbo.pc\" @ONLY)
  file(INSTALL \"${CMAKE_CURRENT_BINARY_DIR}/dubbo.pc\"
       DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\")
")
