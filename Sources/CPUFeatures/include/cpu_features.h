#ifndef VFX_CPU_FEATURES_H
#define VFX_CPU_FEATURES_H

/// The x86-64 micro-architecture level this CPU supports (1 to 4), or 0 on other architectures.
int vfx_x86_64_level(void);

#endif
