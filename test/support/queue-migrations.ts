/** The package's numbered migrations, by name, in order: what a fresh table records. */
export const MIGRATION_NAMES = [
  'CreateQueueTable1795556400000',
  'AddDeadLetters1795560000000',
  'AddMaintenance1795563600000',
  'TimeOrderedIds1795567200000',
  'AddFlowControl1795570800000',
  'AddWorkflows1795574400000',
  'AddSchedules1795578000000',
  'AddTraceContext1795581600000',
  'PartitionArchive1795585200000',
  'AddDashboardTables1795588800000',
  'NarrowStateIndex1795592400000',
];
