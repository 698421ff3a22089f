package org.qft4j;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;

/**
 * Marks a test that needs a usable CUDA GPU. Such tests call {@link Gpus#require()} first, so they are
 * skipped (not failed) on machines without one; {@code bench/gpu-host/run.sh} runs them by tag.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Tag("gpu")
public @interface GpuTest {}
