//! The WGSL sources in the top-level `shaders/` folder and the compute pipelines built from them.

/// Helpers prepended to every shader file.
pub const COMMON: &str = include_str!("../../../shaders/common.wgsl");

/// Every kernel file (besides `common.wgsl`) with its source, as compiled into the binary.
pub const SHADER_FILES: [(&str, &str); 4] = [
    ("dense.wgsl", include_str!("../../../shaders/dense.wgsl")),
    ("demod.wgsl", include_str!("../../../shaders/demod.wgsl")),
    (
        "modconv.wgsl",
        include_str!("../../../shaders/modconv.wgsl"),
    ),
    ("torgb.wgsl", include_str!("../../../shaders/torgb.wgsl")),
];

/// The complete module text of a kernel file: `common.wgsl` followed by the file.
pub fn compose(source: &str) -> String {
    format!("{COMMON}\n{source}")
}

/// One compute entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kernel {
    PixelNorm,
    Dense,
    Demodulation,
    Conv3x3,
    Conv3x3Up2,
    ToRgb,
}

impl Kernel {
    const ALL: [Kernel; 6] = [
        Kernel::PixelNorm,
        Kernel::Dense,
        Kernel::Demodulation,
        Kernel::Conv3x3,
        Kernel::Conv3x3Up2,
        Kernel::ToRgb,
    ];

    fn file(self) -> &'static str {
        match self {
            Kernel::PixelNorm | Kernel::Dense => "dense.wgsl",
            Kernel::Demodulation => "demod.wgsl",
            Kernel::Conv3x3 | Kernel::Conv3x3Up2 => "modconv.wgsl",
            Kernel::ToRgb => "torgb.wgsl",
        }
    }

    fn entry_point(self) -> &'static str {
        match self {
            Kernel::PixelNorm => "pixel_norm",
            Kernel::Dense => "dense",
            Kernel::Demodulation => "demodulation",
            Kernel::Conv3x3 => "conv3x3",
            Kernel::Conv3x3Up2 => "conv3x3_up2",
            Kernel::ToRgb => "torgb",
        }
    }
}

/// Every kernel's pipeline, built once per device.
pub(crate) struct Pipelines {
    pipelines: Vec<(Kernel, wgpu::ComputePipeline)>,
}

impl Pipelines {
    pub(crate) fn new(device: &wgpu::Device) -> Self {
        let modules: Vec<(&str, wgpu::ShaderModule)> = SHADER_FILES
            .iter()
            .map(|(file, source)| {
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(file),
                    source: wgpu::ShaderSource::Wgsl(compose(source).into()),
                });
                (*file, module)
            })
            .collect();
        let pipelines = Kernel::ALL
            .iter()
            .map(|&kernel| {
                let module = &modules
                    .iter()
                    .find(|(file, _)| *file == kernel.file())
                    .expect("kernel file is listed")
                    .1;
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(kernel.entry_point()),
                    layout: None,
                    module,
                    entry_point: Some(kernel.entry_point()),
                    compilation_options: Default::default(),
                    cache: None,
                });
                (kernel, pipeline)
            })
            .collect();
        Self { pipelines }
    }

    pub(crate) fn get(&self, kernel: Kernel) -> &wgpu::ComputePipeline {
        &self
            .pipelines
            .iter()
            .find(|(k, _)| *k == kernel)
            .expect("every kernel is built")
            .1
    }
}
