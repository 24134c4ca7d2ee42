// Three listeners of one event, two in this file and one in a module:
// weak definitions of the same symbol must not collide.
use fastevent::{listener, Event};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct SignupEvent {
    pub user_id: u64,
}

#[derive(Default)]
struct SendWelcome;

#[listener(on = SignupEvent)]
impl SendWelcome {
    async fn handle(&self, event: &SignupEvent) {
        println!("welcome {}", event.user_id);
    }
}

#[derive(Default)]
struct CreateProfile;

#[listener(on = SignupEvent)]
impl CreateProfile {
    async fn handle(&self, event: &SignupEvent) {
        println!("profile {}", event.user_id);
    }
}

mod billing {
    #[derive(Default)]
    pub struct OpenAccount;

    #[fastevent::listener(on = super::SignupEvent)]
    impl OpenAccount {
        async fn handle(&self, event: &super::SignupEvent) {
            println!("account {}", event.user_id);
        }
    }
}

#[tokio::main]
async fn main() {
    SignupEvent { user_id: 5 }.dispatch_now().await.unwrap();
}
