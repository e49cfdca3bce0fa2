"""Word lists for recognising Chinese personal names: surnames and given-name characters.

Surnames: the most frequent single-character surnames (by population share,
about 98% of the population); rarer ones, many of them far more often ordinary
words (都, 由, 来, 国 …), which count only with strong context; and the
compound surnames. Given-name
characters: those common in given names, used only when no context word says
a name follows. Stop characters: verbs, particles and titles that follow a
name (张伟**说**, 王芳**来**电) and so end it.
"""


def _chars(table: str) -> frozenset[str]:
    """The characters of a table written over several lines."""
    return frozenset(table) - frozenset(" \n")


def _words(table: str) -> frozenset[str]:
    """The whitespace-separated words of a table."""
    return frozenset(table.split())


SINGLE_SURNAMES = _chars(
    """
王李张刘陈杨黄吴赵周徐孙马朱胡林郭何高罗郑梁谢宋唐许邓冯韩曹曾彭萧肖蔡潘田董袁于余
叶蒋杜苏魏程吕丁沈任姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎闫薛尹段雷
黎史龙陶贺顾毛郝龚邵万钱严赖覃洪武莫孔汤向常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁
岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路
游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳穆农司卓古吉缪简项连芦麦褚娄窦戚岑景党宫费卜
冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟
邝官封谈匡鞠惠荆乐冀郁胥班储原栗燕楚鄢劳谌奚皮粟冼蔺
"""
)
RARE_SURNAMES = _chars(
    """
丰邸楼辜漆浦支伏宿阿狄银薄朴井帅屠豆盖练廉禹祖巴卿计索宣晋相初门云容敬扈晁芮都普阙戈
鹿雍羊乌母裘亓修邰赫杭况那鲜印逯隆茹诸战慕危亢嵇公哈湛宾戎勾茅利呼居揭干但尉冶斯元束
檀衣信展阴昝智幸奉植衡富尧闭由区国来车商玉南明和时花海强平满位盘
"""
)
COMPOUND_SURNAMES = _words(
    """
欧阳 太史 端木 上官 司马 东方 独孤 南宫 万俟 闻人 夏侯 诸葛 尉迟 公羊 赫连 澹台 皇甫
宗政 濮阳 公冶 太叔 申屠 公孙 慕容 仲孙 钟离 长孙 宇文 司徒 鲜于 司空 闾丘 子车 亓官
司寇 巫马 公西 颛孙 壤驷 公良 漆雕 乐正 宰父 谷梁 拓跋 夹谷 轩辕 令狐 段干 百里 呼延
东郭 南门 羊舌 微生 梁丘 左丘 西门 第五 淳于 东门
"""
)
_GIVEN_CHARS = _chars(
    """
伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英兰霞平刚桂华建国文辉鹏飞玲红梅林波斌宇浩凯健俊
帆帅旭宁龙琳晶婷雪慧颖欣倩琪璐佳怡嘉悦瑶涵萱轩子梓睿博翔晨阳鑫峰亮新成东海江山川志永
春秋冬夏燕凤玉珍莉萍琴云彬毅宏兵忠诚信义礼智仁德福禄寿喜财贵荣富安康乐天和顺利祥瑞吉
庆生金银石立业兴旺发达昌盛隆茂光耀晓小中正长少青丹彤雯婉娇媛嫣妍妮娅姗婕蕾薇蓉芸芬芝
芹菊莹萌蓓蕊诗雨露霜月星辰思念心爱恩惠淑贤良善美好佩珊瑜琦瑾璇珠宝泽洁清淼源沛泓澄然
炜烨焕熙煜哲卓越铭锦钰锋鸿鹤骏驰腾跃昊昆晖晗景晴曦朗栋梁森楠松柏桐榕彦威武壮凡一宗宸
家卫振捷斐翠翰聪胜舟航艺苗茜莎菲蕴虹融衡裕誉豪贝赫轶迪逸遥邦钧铎锐雄雅雁霖韬韵飘馨驹
魁鸣麒麟黎鼎齐龄欢坤岩雷香花畅柳冰洪涌湘淮滨潇灵琼璋瑶璐环珏琛琰瑛玮珂瀚霏霄震霆鹰鹭
鸥凤雁燕莺娥姣娴婧婵嫦妙姿姝娉婷媚岚崇嵘峻巍川州帆希庭廷建弘彪征德徽忆怡恒悦惠愉慧
憬成戈才承振敬文斌方旭昕昭晋晟智曼月朝杉林枫栋桦梓棠楷槐樱檀欧毓汉沁沐河泉波洲浚涛
润淳渊湛溪滢漫澜灿炎烽焱然照熠燎爽牧玥珑琅瑞璟璞甜申畅白皓盈真睿知石硕碧磊礼祺禹秀
科程稳立章竹笑策筠箐红纯素紫絮维绮绵缘美羽翔翼耘聆肖胤舒航良艾芊芮苒若英茹荷莉莲菁
萍萱落蓝蔚蕙薇藤虹蝶行衍裳西詠诗诚语豫贞贤赋超路辉达迎远遨邈郁采金鑫铃锦镜长闻阔阳
雅雨雯霓青靖静韶音顺颂颖飞首馥骁高鹏黛鼎龙杨
"""
)
STOP_CHARS = _chars(
    """
说来去的了是在和与及已于也都还会将等并对把被给让要打买订发住您你我他她它们这那有没
不很就又再吗呢吧啊哦呀嘛电话号码地址收寄退换问答反馈表示称咨询求投诉请预约签确认今昨
午晚需望办取消回复告本人生士姐总经主任医护律傅姨叔老板家从到向往先女男岁因为所以但而
或如之其此些个位名叫姓
"""
)
COMMON_WORDS = _words(
    """
黄金 高兴 高级 高速 高端 高清 安全 安装 安心 方便 方式 方法 方案 明白 明确 文明 文件 文字
平安 江山 白云 白色 成功 成都 成本 成为 周末 周年 周期 周边 金额 金卡 石油 马上 林业 孙子
于是 向前 常常 常见 温柔 温度 康复 华为 华丽 万一 任何 何时 何况 程序 项目 简单 连续 全部
全国 全新 时间 应该 宁可 齐全 乐意 易用 苏宁 信用 原因 原来 海外 海鲜 钱包 包装 包邮 关注
关于 关键 单独 曾经 许多 陆续 邮件 路线 吉利 祝福 贺卡 余额 叶子 管理 管家 柴油 宫殿 景区
龙虾 雷达 毛巾 杜绝 武汉 沈阳 杭州 苏州 温州 常州 江苏 江西 湖南 邯郸 洪水 严格 庄园 章程
甘肃 宁波 宁夏 梅花 童装 纪念 骆驼 蓝色 蓝牙 路由 辛苦 华南 华北 华东 卫生 卫衣 米饭 米色
全面 应用 师傅 荣誉 沙发 桑拿 乐器 燕窝 楚楚 劳动 皮肤 皮鞋 房间 房子 古代 古典 卓越 吉祥
"""
)
GIVEN_NAME_CHARS = _GIVEN_CHARS - STOP_CHARS
