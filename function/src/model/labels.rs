//! Class labels: a text file read once at init.
//!
//! Two formats: one label per line (line N is class N), or `"<index> <label>"` lines such as the
//! published Caltech-256 list (0-based: the dataset's folder `075.floppy-disk` is index 74).

/// Labels by class index; classes without a label are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(Vec<Option<String>>);

/// A label file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelsError {
    /// An empty line among one-label-per-line labels would shift every later class.
    #[error("line {0} is empty (one label per line: line N names class N-1)")]
    EmptyLine(usize),
    /// Two lines name the same index.
    #[error("index {0} appears twice")]
    DuplicateIndex(usize),
    /// The file has no labels.
    #[error("the file has no labels")]
    Empty,
    /// An index too large to be a class.
    #[error("line {0} has an index over 1,000,000")]
    IndexTooLarge(usize),
}

const MAX_INDEX: usize = 1_000_000;

impl Labels {
    /// Parses a label file's text.
    ///
    /// # Errors
    /// A [`LabelsError`] when the text cannot be a label list.
    pub fn parse(text: &str) -> Result<Self, LabelsError> {
        let lines: Vec<&str> = text.trim_end().lines().map(str::trim).collect();
        if lines.iter().all(|l| l.is_empty()) {
            return Err(LabelsError::Empty);
        }
        let indexed: Option<Vec<(usize, &str)>> = lines
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (idx, label) = l.split_once(char::is_whitespace)?;
                Some((idx.parse::<usize>().ok()?, label.trim()))
            })
            .collect();
        match indexed {
            Some(pairs) => {
                let mut labels: Vec<Option<String>> = Vec::new();
                for (line, (idx, label)) in pairs.into_iter().enumerate() {
                    if idx > MAX_INDEX {
                        return Err(LabelsError::IndexTooLarge(line + 1));
                    }
                    if labels.len() <= idx {
                        labels.resize(idx + 1, None);
                    }
                    if labels[idx].replace(label.to_owned()).is_some() {
                        return Err(LabelsError::DuplicateIndex(idx));
                    }
                }
                Ok(Self(labels))
            }
            None => {
                if let Some(pos) = lines.iter().position(|l| l.is_empty()) {
                    return Err(LabelsError::EmptyLine(pos + 1));
                }
                Ok(Self(
                    lines.into_iter().map(|l| Some(l.to_owned())).collect(),
                ))
            }
        }
    }

    /// The label of class `index`, if any.
    pub fn get(&self, index: usize) -> Option<&str> {
        self.0.get(index).and_then(|l| l.as_deref())
    }

    /// How many class slots the file covers (the highest index + 1).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels (no `LABELS_PATH`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_label_per_line() {
        let l = Labels::parse("tench\ngoldfish\r\ngreat white shark\n").unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l.get(0), Some("tench"));
        assert_eq!(l.get(1), Some("goldfish"));
        assert_eq!(l.get(2), Some("great white shark"));
        assert_eq!(l.get(3), None);
    }

    #[test]
    fn indexed_lines_place_labels_by_index() {
        let l = Labels::parse("0 ak47\n74 floppy-disk\n256 clutter\n").unwrap();
        assert_eq!(l.len(), 257);
        assert_eq!(l.get(74), Some("floppy-disk"));
        assert_eq!(l.get(1), None);
    }

    #[test]
    fn bad_files_are_rejected() {
        assert_eq!(Labels::parse("\n\n"), Err(LabelsError::Empty));
        assert_eq!(Labels::parse("a\n\nb"), Err(LabelsError::EmptyLine(2)));
        assert_eq!(
            Labels::parse("1 a\n1 b"),
            Err(LabelsError::DuplicateIndex(1))
        );
        assert_eq!(
            Labels::parse("99999999 a"),
            Err(LabelsError::IndexTooLarge(1))
        );
    }

    #[test]
    fn a_mixed_file_is_read_line_by_line() {
        let l = Labels::parse("7 up\nplain").unwrap();
        assert_eq!(l.get(0), Some("7 up"));
        assert_eq!(l.get(1), Some("plain"));
    }

    #[test]
    fn the_committed_caltech_256_file_has_257_classes_with_floppy_disk_at_74() {
        let l = Labels::parse(include_str!("../../../labels/caltech-256.txt")).unwrap();
        assert_eq!(l.len(), 257);
        assert_eq!(l.get(0), Some("ak47"));
        assert_eq!(l.get(74), Some("floppy-disk"));
        assert_eq!(l.get(256), Some("clutter"));
    }
}
