// Helpers shared by every drape shader; this file is prepended to each of the others before
// compilation, so it holds only constants and functions.

// Invocations per workgroup of every kernel (one-dimensional workgroups).
const WORKGROUP_SIZE: u32 = 64u;

// The activation gain of StyleGAN2 after the leaky ReLU.
const SQRT2: f32 = 1.4142135623730951;

// Leaky ReLU with slope 0.2 followed by the gain sqrt(2).
fn lrelu_gain(v: f32) -> f32 {
    return select(0.2 * v, v, v >= 0.0) * SQRT2;
}

fn lrelu_gain4(v: vec4<f32>) -> vec4<f32> {
    return select(0.2 * v, v, v >= vec4<f32>(0.0)) * SQRT2;
}

// Clamps to [-limit, limit] when enabled is non-zero (conv_clamp), else passes through.
fn clamp_if4(v: vec4<f32>, enabled: u32, limit: f32) -> vec4<f32> {
    return select(v, clamp(v, vec4<f32>(-limit), vec4<f32>(limit)), enabled != 0u);
}

fn clamp_if3(v: vec3<f32>, enabled: u32, limit: f32) -> vec3<f32> {
    return select(v, clamp(v, vec3<f32>(-limit), vec3<f32>(limit)), enabled != 0u);
}

// The flat invocation index of a kernel dispatched as a one-dimensional row of workgroups.
fn flat_index(workgroup: vec3<u32>, local: vec3<u32>) -> u32 {
    return workgroup.x * WORKGROUP_SIZE + local.x;
}
