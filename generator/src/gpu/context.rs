//! The headless wgpu device: adapter choice (real GPU over software, `DRAPE_ADAPTER`), limits and the
//! compiled pipelines shared by every generator on the device.

use super::GpuError;
use super::shaders::Pipelines;
use std::sync::OnceLock;

/// Environment variable that picks an adapter by index or by a substring of its name.
pub const ADAPTER_ENV: &str = "DRAPE_ADAPTER";

/// Which adapter to open.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum AdapterChoice {
    /// The best available: discrete GPU, then integrated, virtual, other, and the CPU (software) last.
    #[default]
    Auto,
    /// The adapter at this position in [`GpuContext::adapters`].
    Index(usize),
    /// The first adapter whose name contains this text (case-insensitive).
    Name(String),
}

impl AdapterChoice {
    /// Parses a user's text: a number is an index, anything else a name substring, empty is `Auto`.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("auto") {
            Self::Auto
        } else if let Ok(index) = text.parse() {
            Self::Index(index)
        } else {
            Self::Name(text.to_string())
        }
    }

    /// The choice in `DRAPE_ADAPTER`, or `Auto` when it is unset.
    pub fn from_env() -> Self {
        std::env::var(ADAPTER_ENV)
            .map(|v| Self::parse(&v))
            .unwrap_or_default()
    }
}

/// An open device and queue with the adapter's limits and lazily compiled pipelines.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    pub(crate) limits: wgpu::Limits,
    pipelines: OnceLock<Pipelines>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.info.name)
            .finish_non_exhaustive()
    }
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

/// The adapters of wgpu's primary backends (Vulkan, Metal, DX12); the GL backend only when none of
/// them has any (probing GL prints window-system errors on headless machines).
fn enumerate() -> Vec<wgpu::Adapter> {
    let instance = instance();
    let primary = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY));
    if primary.is_empty() {
        pollster::block_on(instance.enumerate_adapters(wgpu::Backends::SECONDARY))
    } else {
        primary
    }
}

fn preference(device_type: wgpu::DeviceType) -> u8 {
    match device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

impl GpuContext {
    /// Every adapter wgpu can see, in the order [`AdapterChoice::Index`] counts them.
    pub fn adapters() -> Vec<wgpu::AdapterInfo> {
        enumerate().iter().map(wgpu::Adapter::get_info).collect()
    }

    /// Opens the best hardware adapter (discrete, integrated, virtual or other GPU), or `None` when
    /// every adapter is a software driver or there is none.
    pub fn hardware() -> Result<Option<GpuContext>, GpuError> {
        let adapters = enumerate();
        let best = adapters
            .iter()
            .enumerate()
            .filter(|(_, a)| a.get_info().device_type != wgpu::DeviceType::Cpu)
            .min_by_key(|(i, a)| (preference(a.get_info().device_type), *i));
        best.map(|(_, adapter)| Self::open(adapter)).transpose()
    }

    /// Opens the chosen adapter with its full limits.
    pub fn new(choice: &AdapterChoice) -> Result<GpuContext, GpuError> {
        let adapters = enumerate();
        let names = || {
            adapters
                .iter()
                .map(|a| a.get_info().name)
                .collect::<Vec<_>>()
        };
        let adapter = match choice {
            AdapterChoice::Auto => adapters
                .iter()
                .enumerate()
                .min_by_key(|(i, a)| (preference(a.get_info().device_type), *i))
                .map(|(_, a)| a)
                .ok_or(GpuError::NoAdapter)?,
            AdapterChoice::Index(index) => {
                adapters
                    .get(*index)
                    .ok_or_else(|| GpuError::AdapterNotFound {
                        choice: index.to_string(),
                        available: names(),
                    })?
            }
            AdapterChoice::Name(name) => adapters
                .iter()
                .find(|a| {
                    a.get_info()
                        .name
                        .to_lowercase()
                        .contains(&name.to_lowercase())
                })
                .ok_or_else(|| GpuError::AdapterNotFound {
                    choice: name.clone(),
                    available: names(),
                })?,
        };
        Self::open(adapter)
    }

    fn open(adapter: &wgpu::Adapter) -> Result<GpuContext, GpuError> {
        let info = adapter.get_info();
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("drape"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| GpuError::Device {
            adapter: info.name.clone(),
            reason: e.to_string(),
        })?;
        Ok(GpuContext {
            device,
            queue,
            info,
            limits,
            pipelines: OnceLock::new(),
        })
    }

    /// Name, backend, device type and driver of the open adapter.
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// One line describing the adapter, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan, Cpu)`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    /// The device limits in force.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// The compute pipelines, compiled on first use and then shared.
    pub(crate) fn pipelines(&self) -> &Pipelines {
        self.pipelines.get_or_init(|| Pipelines::new(&self.device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_adapter_choices() {
        assert_eq!(AdapterChoice::parse(""), AdapterChoice::Auto);
        assert_eq!(AdapterChoice::parse("auto"), AdapterChoice::Auto);
        assert_eq!(AdapterChoice::parse(" 1 "), AdapterChoice::Index(1));
        assert_eq!(
            AdapterChoice::parse("llvmpipe"),
            AdapterChoice::Name("llvmpipe".into())
        );
    }
}
