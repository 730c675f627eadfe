//! pim-sim: a local simulator of Entra ID, Graph and ARM for PIM.
