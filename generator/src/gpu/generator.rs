//! `Generator`: a model's weights on a device, and the batched mapping and synthesis runs (the GPU
//! [`Backend`]).

use super::plan::Plan;
use super::weights::GpuWeights;
use super::workspace::{Step, Workspace};
use super::{GpuContext, GpuError};
use crate::backend::{Backend, BackendError};
use crate::cpu::Activation;
use crate::input;
use crate::model::Model;
use crate::noise::{NoiseMode, random_noise};
use crate::truncation::{Truncation, broadcast, truncate};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A model ready to run on a GPU: weights uploaded once, pipelines shared through the context and
/// intermediate buffers kept between runs. Batches larger than the device can hold at once are
/// split into consecutive runs.
pub struct Generator {
    context: Arc<GpuContext>,
    model: Arc<Model>,
    weights: GpuWeights,
    plan: Plan,
    workspace: Mutex<Option<Workspace>>,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("context", &self.context)
            .field("resolution", &self.model.config().resolution)
            .field("max_batch", &self.plan.max_batch)
            .finish_non_exhaustive()
    }
}

/// What a synthesis run brings back besides the images.
enum Capture {
    Nothing,
    Intermediates,
}

impl Generator {
    /// Checks the model against the device limits (loop trip counts, buffer sizes, dispatch grids)
    /// and uploads its weights.
    pub fn new(context: Arc<GpuContext>, model: Arc<Model>) -> Result<Generator, GpuError> {
        let plan = Plan::new(model.network(), &context.limits)?;
        let weights = checked(&context, "uploading the weights", || {
            GpuWeights::upload(&context, &model)
        })??;
        Ok(Generator {
            context,
            model,
            weights,
            plan,
            workspace: Mutex::new(None),
        })
    }

    /// Lowers the number of designs per run (to bound memory); a batch above it is split. Values
    /// above the device's own maximum, and 0, leave the device maximum in force.
    pub fn with_max_batch(mut self, max_batch: usize) -> Generator {
        if max_batch > 0 {
            self.plan.max_batch = self.plan.max_batch.min(max_batch);
        }
        self
    }

    /// The device context.
    pub fn context(&self) -> &Arc<GpuContext> {
        &self.context
    }

    fn synthesize_with(
        &self,
        ws: &[f32],
        batch: usize,
        noise: &NoiseMode,
        capture: Capture,
    ) -> Result<(Vec<f32>, Vec<Activation>), GpuError> {
        let c = self.model.config();
        let per_design = c.num_ws * c.w_dim;
        input::check_ws(c, ws, batch)?;
        let mut images = Vec::with_capacity(batch * 3 * c.resolution * c.resolution);
        let mut trace: Vec<Activation> = Vec::new();
        for (start, count) in self.chunks(batch) {
            let chunk = &ws[start * per_design..(start + count) * per_design];
            let (image, acts) = self.with_workspace(count, |space| {
                self.run_synthesis(space, chunk, count, start, noise, &capture)
            })?;
            images.extend(image);
            if trace.is_empty() {
                trace = acts;
            } else {
                for (all, part) in trace.iter_mut().zip(acts) {
                    all.shape[0] += part.shape[0];
                    all.data.extend(part.data);
                }
            }
        }
        Ok((images, trace))
    }

    /// (first design, count) of each run.
    fn chunks(&self, batch: usize) -> Vec<(usize, usize)> {
        let size = self.plan.max_batch;
        (0..batch)
            .step_by(size)
            .map(|start| (start, size.min(batch - start)))
            .collect()
    }

    /// Runs `f` with a workspace of at least `batch` capacity, (re)building it when too small.
    fn with_workspace<T>(
        &self,
        batch: usize,
        f: impl FnOnce(&Workspace) -> Result<T, GpuError>,
    ) -> Result<T, GpuError> {
        let mut guard = self
            .workspace
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.as_ref().is_none_or(|w| w.capacity < batch) {
            *guard = None;
            let space = checked(&self.context, "allocating intermediate buffers", || {
                Workspace::new(&self.context, &self.model, &self.weights, &self.plan, batch)
            })?;
            *guard = Some(space);
        }
        f(guard.as_ref().expect("workspace was just ensured"))
    }

    fn write_params(&self, steps: &[Step], batch: usize, noise: &NoiseMode, space: &Workspace) {
        for step in steps {
            let words = step.op.words(batch, noise);
            self.context
                .queue
                .write_buffer(&space.params, step.slot, bytemuck::cast_slice(&words));
        }
    }

    fn dispatch(&self, pass: &mut wgpu::ComputePass<'_>, step: &Step, batch: usize) {
        let [x, y, z] = step.op.workgroups(batch);
        pass.set_pipeline(self.context.pipelines().get(step.kernel));
        pass.set_bind_group(0, &step.bind_group, &[]);
        pass.dispatch_workgroups(x, y, z);
    }

    fn run_mapping(
        &self,
        space: &Workspace,
        z: &[f32],
        batch: usize,
    ) -> Result<Vec<f32>, GpuError> {
        let c = self.model.config();
        checked(&self.context, "the mapping network", || {
            let ctx = &self.context;
            ctx.queue.write_buffer(&space.z, 0, bytemuck::cast_slice(z));
            self.write_params(&space.mapping, batch, &NoiseMode::Const, space);
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                for step in &space.mapping {
                    self.dispatch(&mut pass, step, batch);
                }
            }
            let hidden = self.plan.hidden_len;
            encoder.copy_buffer_to_buffer(
                &space.mapping_output,
                0,
                &space.readback,
                0,
                4 * (batch * hidden) as u64,
            );
            ctx.queue.submit([encoder.finish()]);
            let rows = read(ctx, &space.readback, batch * hidden)?;
            Ok(rows
                .chunks_exact(hidden)
                .flat_map(|row| row[..c.w_dim].to_vec())
                .collect())
        })?
    }

    /// Uploads ws, parameters and (for random noise) the noise maps of designs `first..first+batch`.
    fn prepare_synthesis(
        &self,
        space: &Workspace,
        ws: &[f32],
        batch: usize,
        first: usize,
        noise: &NoiseMode,
    ) {
        let ctx = &self.context;
        ctx.queue
            .write_buffer(&space.ws, 0, bytemuck::cast_slice(ws));
        self.write_params(&space.synthesis, batch, noise, space);
        if let NoiseMode::Random { seed } = noise {
            let maps: Vec<Vec<Vec<f32>>> = (first..first + batch)
                .map(|n| random_noise(self.model.network(), *seed, n))
                .collect();
            for (layer, &offset) in space.noise_windows.iter().enumerate() {
                let window: Vec<f32> = maps.iter().flat_map(|m| m[layer].iter().copied()).collect();
                ctx.queue
                    .write_buffer(&space.noise, offset, bytemuck::cast_slice(&window));
            }
        }
    }

    fn copy_const_noise(&self, space: &Workspace, encoder: &mut wgpu::CommandEncoder) {
        for (l, conv) in self.model.convs().iter().enumerate() {
            let bytes = 4 * conv.noise_const.len() as u64;
            let from = self.weights.noise_const_offsets[l];
            encoder.copy_buffer_to_buffer(
                &self.weights.noise_const,
                from,
                &space.noise,
                space.noise_windows[l],
                bytes,
            );
        }
    }

    fn run_synthesis(
        &self,
        space: &Workspace,
        ws: &[f32],
        batch: usize,
        first: usize,
        noise: &NoiseMode,
        capture: &Capture,
    ) -> Result<(Vec<f32>, Vec<Activation>), GpuError> {
        checked(&self.context, "the synthesis network", || {
            let ctx = &self.context;
            self.prepare_synthesis(space, ws, batch, first, noise);
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            if *noise == NoiseMode::Const {
                self.copy_const_noise(space, &mut encoder);
            }
            let mut captured = Vec::new();
            let mut pass = Some(
                encoder
                    .begin_compute_pass(&Default::default())
                    .forget_lifetime(),
            );
            for step in &space.synthesis {
                let active = pass.get_or_insert_with(|| {
                    encoder
                        .begin_compute_pass(&Default::default())
                        .forget_lifetime()
                });
                self.dispatch(active, step, batch);
                if let (Capture::Intermediates, Some(output)) = (capture, &step.output) {
                    pass = None;
                    let bytes = 4 * (batch * output.stride) as u64;
                    let copy = ctx.device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some(&output.name),
                        size: bytes,
                        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    });
                    encoder.copy_buffer_to_buffer(&output.buffer, 0, &copy, 0, bytes);
                    captured.push((output, copy));
                }
            }
            drop(pass);
            let r = self.model.config().resolution;
            let image_len = batch * 3 * r * r;
            encoder.copy_buffer_to_buffer(
                &space.image_output,
                0,
                &space.readback,
                0,
                4 * image_len as u64,
            );
            ctx.queue.submit([encoder.finish()]);
            let images = read(ctx, &space.readback, image_len)?;
            let mut trace = Vec::new();
            for (output, copy) in captured {
                let all = read(ctx, &copy, batch * output.stride)?;
                let data = all
                    .chunks_exact(output.stride)
                    .flat_map(|design| design[output.offset..output.offset + output.len()].to_vec())
                    .collect();
                let shape = [vec![batch], output.shape.clone()].concat();
                trace.push(Activation {
                    name: output.name.clone(),
                    shape,
                    data,
                });
            }
            Ok((images, trace))
        })?
    }
}

impl Backend for Generator {
    fn describe(&self) -> String {
        format!("gpu: {}", self.context.describe())
    }

    fn model(&self) -> &Arc<Model> {
        &self.model
    }

    fn max_batch(&self) -> usize {
        self.plan.max_batch
    }

    fn map(
        &self,
        z: &[f32],
        batch: usize,
        truncation: &Truncation,
    ) -> Result<Vec<f32>, BackendError> {
        let c = self.model.config();
        input::check_z(c, z, batch)?;
        let mut w = Vec::with_capacity(batch * c.w_dim);
        for (start, count) in self.chunks(batch) {
            let chunk = &z[start * c.z_dim..(start + count) * c.z_dim];
            w.extend(self.with_workspace(count, |ws| self.run_mapping(ws, chunk, count))?);
        }
        let mut ws = broadcast(&w, c.w_dim, c.num_ws);
        truncate(&mut ws, c.num_ws, self.model.w_avg(), truncation);
        Ok(ws)
    }

    fn synthesize(
        &self,
        ws: &[f32],
        batch: usize,
        noise: &NoiseMode,
    ) -> Result<Vec<f32>, BackendError> {
        Ok(self.synthesize_with(ws, batch, noise, Capture::Nothing)?.0)
    }

    fn synthesize_traced(
        &self,
        ws: &[f32],
        batch: usize,
        noise: &NoiseMode,
    ) -> Result<(Vec<f32>, Vec<Activation>), BackendError> {
        Ok(self.synthesize_with(ws, batch, noise, Capture::Intermediates)?)
    }

    /// Times every synthesis dispatch on its own (submit and wait each).
    fn profile_synthesis(
        &self,
        ws: &[f32],
        batch: usize,
    ) -> Result<Vec<(String, Duration)>, BackendError> {
        let c = self.model.config();
        input::check_ws(c, ws, batch)?;
        let batch = batch.min(self.plan.max_batch);
        let ws = &ws[..batch * c.num_ws * c.w_dim];
        let timings = self.with_workspace(batch, |space| {
            checked(&self.context, "profiling", || {
                let noise = NoiseMode::Const;
                self.prepare_synthesis(space, ws, batch, 0, &noise);
                let ctx = &self.context;
                let mut encoder = ctx.device.create_command_encoder(&Default::default());
                self.copy_const_noise(space, &mut encoder);
                ctx.queue.submit([encoder.finish()]);
                wait(ctx)?;
                let mut timings = Vec::new();
                for step in &space.synthesis {
                    let start = Instant::now();
                    let mut encoder = ctx.device.create_command_encoder(&Default::default());
                    {
                        let mut pass = encoder.begin_compute_pass(&Default::default());
                        self.dispatch(&mut pass, step, batch);
                    }
                    ctx.queue.submit([encoder.finish()]);
                    wait(ctx)?;
                    timings.push((step.label.clone(), start.elapsed()));
                }
                Ok(timings)
            })?
        })?;
        Ok(timings)
    }
}

/// Runs `f` inside wgpu validation and out-of-memory error scopes, turning a captured error into
/// [`GpuError::Wgpu`].
fn checked<T>(context: &GpuContext, during: &str, f: impl FnOnce() -> T) -> Result<T, GpuError> {
    let memory = context
        .device
        .push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = context
        .device
        .push_error_scope(wgpu::ErrorFilter::Validation);
    let value = f();
    let errors = [
        pollster::block_on(validation.pop()),
        pollster::block_on(memory.pop()),
    ];
    match errors.into_iter().flatten().next() {
        Some(error) => Err(GpuError::Wgpu {
            during: during.into(),
            message: error.to_string(),
        }),
        None => Ok(value),
    }
}

fn wait(context: &GpuContext) -> Result<(), GpuError> {
    context
        .device
        .poll(wgpu::PollType::wait_indefinitely())
        .map(drop)
        .map_err(|e| GpuError::Wgpu {
            during: "waiting for the GPU".into(),
            message: e.to_string(),
        })
}

/// Copies the first `len` floats of a mappable buffer to the host.
fn read(context: &GpuContext, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<f32>, GpuError> {
    let slice = buffer.slice(..4 * len as u64);
    let (sender, receiver) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |result| {
        let _ = sender.send(result);
    });
    wait(context)?;
    let failed = |message: String| GpuError::Wgpu {
        during: "reading results back".into(),
        message,
    };
    receiver
        .recv()
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(e.to_string()))?;
    let values = {
        let view = slice
            .get_mapped_range()
            .map_err(|e| failed(e.to_string()))?;
        bytemuck::pod_collect_to_vec(&view[..])
    };
    buffer.unmap();
    Ok(values)
}
