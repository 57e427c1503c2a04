use serde::{Deserialize, Serialize};

use super::ComponentId;

/// The state of one component, as the public sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    Operational,
    UnderMaintenance,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
}

impl ComponentStatus {
    pub const ALL: [ComponentStatus; 5] = [
        Self::Operational,
        Self::UnderMaintenance,
        Self::DegradedPerformance,
        Self::PartialOutage,
        Self::MajorOutage,
    ];

    /// How bad it is for users: higher is worse.
    pub fn severity(self) -> u8 {
        match self {
            Self::Operational => 0,
            Self::UnderMaintenance => 1,
            Self::DegradedPerformance => 2,
            Self::PartialOutage => 3,
            Self::MajorOutage => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operational => "operational",
            Self::UnderMaintenance => "under_maintenance",
            Self::DegradedPerformance => "degraded_performance",
            Self::PartialOutage => "partial_outage",
            Self::MajorOutage => "major_outage",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Plain words for the page.
    pub fn words(self) -> &'static str {
        match self {
            Self::Operational => "Operational",
            Self::UnderMaintenance => "Under maintenance",
            Self::DegradedPerformance => "Slow or degraded",
            Self::PartialOutage => "Partial outage",
            Self::MajorOutage => "Major outage",
        }
    }
}

/// A part of the service that users recognise ("Email", "VPN").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Component {
    pub id: ComponentId,
    pub name: String,
    pub description: Option<String>,
    pub group_id: Option<ComponentId>,
    pub position: i64,
    pub status: ComponentStatus,
    pub created_at: jiff::Timestamp,
    pub updated_at: jiff::Timestamp,
}

/// Where a component may go: groups are one level deep, so a group is a
/// top-level component and a component with members is in no group. With
/// deeper nesting, components vanished from the page while the banner
/// still counted their outage.
pub fn check_group(
    id: &ComponentId,
    group: Option<&Component>,
    has_members: bool,
) -> Result<(), super::DomainError> {
    let Some(group) = group else {
        return Ok(());
    };
    let refuse = |why: String| Err(super::DomainError::new("group_id", why));
    if &group.id == id {
        return refuse("a component cannot be its own group".into());
    }
    if group.group_id.is_some() {
        return refuse(format!(
            "`{}` is itself in a group; groups are one level deep",
            group.name
        ));
    }
    if has_members {
        return refuse(
            "this component is a group (others are in it); a group cannot be in another group"
                .into(),
        );
    }
    Ok(())
}

/// A change of a component by staff: each field given is changed.
#[derive(Debug, Clone, Default)]
pub struct ComponentEdit {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub group_id: Option<Option<ComponentId>>,
    pub position: Option<i64>,
    pub status: Option<ComponentStatus>,
    /// Why the status changes, told to subscribers with it.
    pub reason: Option<super::Description>,
}

impl ComponentEdit {
    /// Whether the edit moves the component to (or out of) a group: only
    /// then does the store read the group and the component's members.
    pub fn moves(&self) -> bool {
        self.group_id.is_some()
    }
}

impl Component {
    /// This component after `edit` at `now`, or `None` when the edit
    /// changes nothing. `group` is the group it moves into and
    /// `has_members` whether others are in it (read when the edit moves it).
    pub fn edited(
        &self,
        edit: &ComponentEdit,
        group: Option<&Component>,
        has_members: bool,
        now: jiff::Timestamp,
    ) -> Result<Option<Component>, super::DomainError> {
        let mut after = self.clone();
        if let Some(name) = &edit.name {
            after.name = name.clone();
        }
        if let Some(description) = &edit.description {
            after.description = description.clone();
        }
        if let Some(group_id) = &edit.group_id {
            check_group(&self.id, group, has_members)?;
            after.group_id = group_id.clone();
        }
        if let Some(position) = edit.position {
            after.position = position;
        }
        if let Some(status) = edit.status {
            after.status = status;
        }
        if after == *self {
            return Ok(None);
        }
        after.updated_at = now;
        Ok(Some(after))
    }
}

/// The components as the page shows them: each top-level one with the
/// members of its group. Every component appears exactly once, also when
/// stored data nests deeper than one level, names a group that is gone,
/// or loops: a member is shown under its top-most group, and one with no
/// such group is shown at the top.
pub fn grouped<'a>(components: &'a [Component]) -> Vec<(&'a Component, Vec<&'a Component>)> {
    use std::collections::HashMap;
    let by_id: HashMap<&'a ComponentId, &'a Component> =
        components.iter().map(|c| (&c.id, c)).collect();
    let top_of = |component: &'a Component| -> Option<&'a ComponentId> {
        let mut current = component;
        for _ in 0..components.len() {
            let Some(parent) = current.group_id.as_ref().and_then(|id| by_id.get(id)) else {
                break;
            };
            current = parent;
        }
        let top = current.group_id.is_none() || !by_id.contains_key(current.group_id.as_ref()?);
        (top && current.id != component.id).then_some(&current.id)
    };
    let mut members: HashMap<&ComponentId, Vec<&Component>> = HashMap::new();
    let mut tops = Vec::new();
    for component in components {
        match top_of(component) {
            Some(top) => members.entry(top).or_default().push(component),
            None => tops.push(component),
        }
    }
    tops.into_iter()
        .map(|top| (top, members.remove(&top.id).unwrap_or_default()))
        .collect()
}

/// The components as readers see them: a group is shown as bad as its
/// worst member, so that "Email: Operational" never sits above "Outbound
/// SMTP: Major outage". Each group keeps its own status when that is worse
/// (staff may mark a whole group). Members and order are unchanged.
pub fn rolled_up(components: &[Component]) -> Vec<Component> {
    use std::collections::HashMap;
    let worst: HashMap<&ComponentId, ComponentStatus> = grouped(components)
        .into_iter()
        .filter(|(_, members)| !members.is_empty())
        .map(|(top, members)| {
            let status = members
                .iter()
                .map(|m| m.status)
                .chain(std::iter::once(top.status))
                .max_by_key(|s| s.severity())
                .unwrap_or(top.status);
            (&top.id, status)
        })
        .collect();
    components
        .iter()
        .map(|c| {
            let mut shown = c.clone();
            if let Some(&status) = worst.get(&c.id) {
                shown.status = status;
            }
            shown
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(id: &str, group: Option<&str>) -> Component {
        Component {
            id: id.into(),
            name: id.to_uppercase(),
            description: None,
            group_id: group.map(Into::into),
            position: 0,
            status: ComponentStatus::Operational,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            updated_at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_group_is_as_bad_as_its_worst_member() {
        let mut vpn = component("vpn", None);
        let mut smtp = component("smtp", Some("email"));
        smtp.status = ComponentStatus::MajorOutage;
        let mut webmail = component("webmail", Some("email"));
        webmail.status = ComponentStatus::DegradedPerformance;
        vpn.status = ComponentStatus::PartialOutage;
        let mut maintained = component("print", None);
        maintained.status = ComponentStatus::UnderMaintenance;
        let print_queue = component("queue", Some("print"));
        let components = [
            component("email", None),
            smtp,
            webmail,
            vpn,
            maintained,
            print_queue,
        ];
        let shown = rolled_up(&components);
        let status = |id: &str| shown.iter().find(|c| c.id.as_str() == id).unwrap().status;
        assert_eq!(status("email"), ComponentStatus::MajorOutage);
        assert_eq!(status("smtp"), ComponentStatus::MajorOutage);
        assert_eq!(status("webmail"), ComponentStatus::DegradedPerformance);
        // Not a group: as it is.
        assert_eq!(status("vpn"), ComponentStatus::PartialOutage);
        // A group's own status counts when it is the worst.
        assert_eq!(status("print"), ComponentStatus::UnderMaintenance);
        assert_eq!(shown.len(), components.len());
    }

    #[test]
    fn groups_are_one_level_deep() {
        let top = component("g", None);
        let member = component("m", Some("g"));
        let (x, g) = (ComponentId::new("x"), ComponentId::new("g"));
        assert!(check_group(&x, Some(&top), false).is_ok());
        assert!(check_group(&x, None, true).is_ok());
        assert_eq!(
            check_group(&g, Some(&top), false).unwrap_err().field,
            "group_id"
        );
        assert!(check_group(&x, Some(&member), false).is_err());
        assert!(check_group(&x, Some(&top), true).is_err());
    }

    #[test]
    fn an_edit_changes_what_it_names_and_nothing_else() {
        let now = jiff::Timestamp::from_second(60).unwrap();
        let before = component("x", None);
        let same = ComponentEdit {
            name: Some("X".into()),
            ..ComponentEdit::default()
        };
        assert_eq!(before.edited(&same, None, false, now).unwrap(), None);
        let edit = ComponentEdit {
            status: Some(ComponentStatus::MajorOutage),
            position: Some(3),
            ..ComponentEdit::default()
        };
        let after = before.edited(&edit, None, false, now).unwrap().unwrap();
        assert_eq!(after.status, ComponentStatus::MajorOutage);
        assert_eq!((after.position, after.updated_at), (3, now));
        assert_eq!((after.name.as_str(), &after.group_id), ("X", &None));
        let into_itself = ComponentEdit {
            group_id: Some(Some("x".into())),
            ..ComponentEdit::default()
        };
        let err = before.edited(&into_itself, Some(&before), false, now);
        assert_eq!(err.unwrap_err().field, "group_id");
    }

    #[test]
    fn every_component_is_shown_once_however_it_was_stored() {
        let stored = [
            component("a", None),
            component("b", Some("a")),
            component("c", Some("b")),    // nested deeper (older data)
            component("d", Some("gone")), // its group was removed
            component("e", Some("f")),    // a loop
            component("f", Some("e")),
        ];
        let shown = grouped(&stored);
        let names: Vec<(&str, Vec<&str>)> = shown
            .iter()
            .map(|(top, members)| {
                (
                    top.id.as_str(),
                    members.iter().map(|m| m.id.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("a", vec!["b", "c"]),
                ("d", vec![]),
                ("e", vec![]),
                ("f", vec![])
            ]
        );
    }
}
