pub const NOTIFY_TEMPLATE: &str = "notify-privileged";
pub struct Templates;
impl Templates {
    pub fn missing(_s: &crate::config::ReplySettings) -> Vec<String> {
        Vec::new()
    }
}
